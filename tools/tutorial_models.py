#!/usr/bin/python3
"""The tutorial's eleven models in PyTorch, written from the facts of each step (TUTORIAL.md), and a
check that babygpt's step programs (examples/tutorial) save checkpoints these models load strictly.

    tools/tutorial_models.py CHECKPOINT[:PROBE]...

Each checkpoint's metadata names its step ("v1_bigram" ... "v11_hyper_params") and holds its
vocabulary. The model of that step is built with the tutorial's sizes (step 11: the v11 preset) and
the checkpoint loaded with load_state_dict(strict=True). With a PROBE (the file the step program's
--probe option wrote: an input "idx" and babygpt's "logits" for it), the PyTorch model's logits for
that input must equal babygpt's within 1e-5 (absolute, or relative above 1). Exits non-zero at the
first checkpoint that does not load or does not agree.
"""

import sys

import torch
import torch.nn as nn

import reference_model as rm
from safetensors_io import load_file_with_metadata

SIZES = dict(block_size=8, n_embed=32, n_head=4, n_layer=3)  # steps 1-10
V11_SIZES = dict(block_size=256, n_embed=384, n_head=6, n_layer=6)


class Frame(nn.Module):
    """Steps 2-7: token and position embeddings in, the lm_head out; the submodules named in
    `self.middle` applied in order in between."""

    def __init__(self, vocab_size, n_embed, block_size):
        super().__init__()
        self.token_embedding_table = nn.Embedding(vocab_size, n_embed)
        self.postion_embedding_table = nn.Embedding(block_size, n_embed)
        self.lm_head = nn.Linear(n_embed, vocab_size)
        self.middle = []

    def forward(self, idx):
        T = idx.shape[1]
        x = self.token_embedding_table(idx) + self.postion_embedding_table(torch.arange(T))
        for name in self.middle:
            x = getattr(self, name)(x)
        return self.lm_head(x)


class Bigram(nn.Module):
    """Step 1."""

    def __init__(self, vocab_size, n_embed):
        super().__init__()
        self.token_embedding_table = nn.Embedding(vocab_size, n_embed)
        self.lm_head = nn.Linear(n_embed, vocab_size)

    def forward(self, idx):
        return self.lm_head(self.token_embedding_table(idx))


class Concat(nn.Module):
    """Step 4: heads concatenated, no projection."""

    def __init__(self, n_embed, n_head, block_size):
        super().__init__()
        self.heads = nn.ModuleList([rm.Head(n_embed, n_embed // n_head, block_size, 0.0) for _ in range(n_head)])

    def forward(self, x):
        return torch.cat([h(x) for h in self.heads], dim=-1)


class ReluFeedForward(nn.Module):
    """Step 5: Linear(C, C), ReLU."""

    def __init__(self, n_embed):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_embed, n_embed), nn.ReLU())

    def forward(self, x):
        return self.net(x)


class EarlyBlock(nn.Module):
    """Steps 6 and 7: attention then feed-forward, with residual connections from step 7."""

    def __init__(self, n_embed, n_head, block_size, residual):
        super().__init__()
        self.sa = Concat(n_embed, n_head, block_size)
        self.ffwd = ReluFeedForward(n_embed)
        self.residual = residual

    def forward(self, x):
        if not self.residual:
            return self.ffwd(self.sa(x))
        x = x + self.sa(x)
        return x + self.ffwd(x)


def build(step, vocab_size):
    s = V11_SIZES if step == "v11_hyper_params" else SIZES
    V, C, T, H, L = vocab_size, s["n_embed"], s["block_size"], s["n_head"], s["n_layer"]
    if step == "v1_bigram":
        return Bigram(V, C)
    model = Frame(V, C, T)
    if step == "v3_self_attention":
        model.sa_head = rm.Head(C, C, T, 0.0)
        model.middle = ["sa_head"]
    elif step == "v4_multihead_attention":
        model.sa_heads = Concat(C, H, T)
        model.middle = ["sa_heads"]
    elif step == "v5_feedforward":
        model.sa_heads = Concat(C, H, T)
        model.ffwd = ReluFeedForward(C)
        model.middle = ["sa_heads", "ffwd"]
    elif step in ("v6_block", "v7_residual_connection"):
        model.blocks = nn.Sequential(*[EarlyBlock(C, H, T, step == "v7_residual_connection") for _ in range(L)])
        model.middle = ["blocks"]
    elif step in ("v8_projection", "v9_layer_norm", "v10_dropout", "v11_hyper_params"):
        norm = "none" if step == "v8_projection" else "pre"
        return rm.BabyGPT(V, T, C, H, L, 0.0, norm)
    elif step != "v2_position":
        raise SystemExit("unknown step '%s'" % step)
    return model


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for argument in paths:
        path, _, probe_path = argument.partition(":")
        tensors, metadata = load_file_with_metadata(path)
        step, vocab = metadata["step"], metadata["vocab"]
        model = build(step, len(vocab))
        model.load_state_dict(tensors, strict=True)
        model.eval()
        message = "%s: %s loads with strict=True (%d tensors)" % (path, step, len(tensors))
        if probe_path:
            probe, _ = load_file_with_metadata(probe_path)
            with torch.no_grad():
                out = model(probe["idx"])
            logits = (out[0] if isinstance(out, tuple) else out).double()
            expected = probe["logits"].double()
            if logits.shape != expected.shape:
                print("%s: logits %s, babygpt's %s" % (path, tuple(logits.shape), tuple(expected.shape)), file=sys.stderr)
                return 1
            excess = ((logits - expected).abs() - 1e-5 * torch.clamp(expected.abs(), min=1.0)).max().item()
            worst = (logits - expected).abs().max().item()
            if excess > 0:
                print("%s: PyTorch's logits differ from babygpt's by up to %.3g" % (path, worst), file=sys.stderr)
                return 1
            message += "; logits %s equal babygpt's (largest difference %.2g)" % (tuple(logits.shape), worst)
        print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
