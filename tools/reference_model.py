#!/usr/bin/python3
"""The reference BabyGPT (character-level GPT, Pre-LN, dropout as in version 10+).

Written from the reference model's specification.  Module and attribute names are chosen so
that state_dict keys are exactly the reference ones, including the misspelt
`postion_embedding_table`, the `tril` buffers of every head and the
`ffwd.net.0` / `ffwd.net.2` Linear layers (ReLU is net.1, Dropout net.3).
"""

import math

import torch
import torch.nn as nn
from torch.nn import functional as F

PRESETS = {
    # the tutorial's LayerNorm step
    "v9": dict(batch_size=32, block_size=8, n_embed=32, n_head=4, n_layer=3, dropout=0.0,
               learning_rate=1e-2, max_iters=5000, eval_interval=200, eval_iters=100),
    # the full configuration
    "v11": dict(batch_size=64, block_size=256, n_embed=384, n_head=6, n_layer=6, dropout=0.2,
                learning_rate=3e-4, max_iters=5000, eval_interval=200, eval_iters=100),
}


class Head(nn.Module):
    """One head of causal self-attention."""

    def __init__(self, n_embed, head_size, block_size, dropout):
        super().__init__()
        self.head_size = head_size
        self.key = nn.Linear(n_embed, head_size, bias=False)
        self.query = nn.Linear(n_embed, head_size, bias=False)
        self.value = nn.Linear(n_embed, head_size, bias=False)
        self.register_buffer("tril", torch.tril(torch.ones(block_size, block_size)))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        B, T, C = x.shape
        k = self.key(x)    # (B, T, hs)
        q = self.query(x)  # (B, T, hs)
        wei = q @ k.transpose(-2, -1) / math.sqrt(self.head_size)  # (B, T, T)
        wei = wei.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
        wei = F.softmax(wei, dim=-1)
        wei = self.dropout(wei)
        v = self.value(x)  # (B, T, hs)
        return wei @ v     # (B, T, hs)


class MultiHeadAttention(nn.Module):
    """n_head heads in parallel, concatenated, then a projection."""

    def __init__(self, n_embed, n_head, block_size, dropout):
        super().__init__()
        head_size = n_embed // n_head
        self.heads = nn.ModuleList(
            [Head(n_embed, head_size, block_size, dropout) for _ in range(n_head)])
        self.proj = nn.Linear(n_embed, n_embed)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        out = torch.cat([h(x) for h in self.heads], dim=-1)
        return self.dropout(self.proj(out))


class FeedFoward(nn.Module):
    """Linear -> ReLU -> Linear -> Dropout (spelling as in the original)."""

    def __init__(self, n_embed, dropout):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_embed, 4 * n_embed),
            nn.ReLU(),
            nn.Linear(4 * n_embed, n_embed),
            nn.Dropout(dropout),
        )

    def forward(self, x):
        return self.net(x)


class Block(nn.Module):
    """Pre-LN transformer block: x + sa(ln1(x)), then x + ffwd(ln2(x)).

    norm="post" normalises each residual sum instead (x = ln1(x + sa(x)); x = ln2(x + ffwd(x))), and
    norm="none" has no LayerNorm (the tutorial's step 8): babygpt's GPTConfig::norm.
    """

    def __init__(self, n_embed, n_head, block_size, dropout, norm="pre"):
        super().__init__()
        self.norm = norm
        self.sa = MultiHeadAttention(n_embed, n_head, block_size, dropout)
        self.ffwd = FeedFoward(n_embed, dropout)
        if norm != "none":
            self.ln1 = nn.LayerNorm(n_embed)
            self.ln2 = nn.LayerNorm(n_embed)

    def forward(self, x):
        if self.norm == "post":
            x = self.ln1(x + self.sa(x))
            return self.ln2(x + self.ffwd(x))
        if self.norm == "none":
            x = x + self.sa(x)
            return x + self.ffwd(x)
        x = x + self.sa(self.ln1(x))
        x = x + self.ffwd(self.ln2(x))
        return x


class BabyGPT(nn.Module):
    def __init__(self, vocab_size, block_size, n_embed, n_head, n_layer, dropout=0.0, norm="pre"):
        super().__init__()
        self.vocab_size = vocab_size
        self.block_size = block_size
        self.token_embedding_table = nn.Embedding(vocab_size, n_embed)
        self.postion_embedding_table = nn.Embedding(block_size, n_embed)
        self.blocks = nn.Sequential(
            *[Block(n_embed, n_head, block_size, dropout, norm) for _ in range(n_layer)])
        self.ln_final = nn.LayerNorm(n_embed) if norm == "pre" else nn.Identity()
        self.lm_head = nn.Linear(n_embed, vocab_size)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        tok_emb = self.token_embedding_table(idx)                                   # (B, T, C)
        pos_emb = self.postion_embedding_table(torch.arange(T, device=idx.device))  # (T, C)
        x = tok_emb + pos_emb
        x = self.blocks(x)
        x = self.ln_final(x)
        logits = self.lm_head(x)                                                    # (B, T, V)
        if targets is None:
            return logits, None
        B, T, V = logits.shape
        loss = F.cross_entropy(logits.view(B * T, V), targets.view(B * T))
        return logits, loss

    def generate(self, idx, max_new_tokens):
        """Sample max_new_tokens tokens (no KV cache; context cropped to block_size)."""
        for _ in range(max_new_tokens):
            idx_cond = idx[:, -self.block_size:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :]
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


def build_model(vocab_size, cfg):
    """BabyGPT from a dict holding block_size, n_embed, n_head, n_layer (dropout, norm optional)."""
    return BabyGPT(vocab_size, cfg["block_size"], cfg["n_embed"], cfg["n_head"],
                   cfg["n_layer"], cfg.get("dropout", 0.0), cfg.get("norm", "pre"))


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------- data helpers

class Vocabulary:
    """chars = sorted(set(text)) over Unicode code points."""

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}
        self.itos = {i: ch for i, ch in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, s):
        return [self.stoi[c] for c in s]

    def decode(self, ids):
        return "".join(self.itos[int(i)] for i in ids)


def split_data(data, train_fraction=0.9):
    n = int(train_fraction * len(data))
    return data[:n], data[n:]


def get_batch(data, batch_size, block_size):
    """batch_size random windows: x = data[i:i+block_size], y shifted by one."""
    ix = torch.randint(len(data) - block_size, (batch_size,))
    x = torch.stack([data[i:i + block_size] for i in ix])
    y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])
    return x, y


@torch.no_grad()
def estimate_loss(model, splits, eval_iters, batch_size, block_size):
    """Mean loss over eval_iters random batches of each split, in eval mode.

    splits: dict split name -> 1-D LongTensor.  Returns dict split name -> float.
    """
    out = {}
    model.eval()
    for name, data in splits.items():
        losses = torch.zeros(eval_iters)
        for k in range(eval_iters):
            X, Y = get_batch(data, batch_size, block_size)
            _, loss = model(X, Y)
            losses[k] = loss.item()
        out[name] = losses.mean().item()
    model.train()
    return out
