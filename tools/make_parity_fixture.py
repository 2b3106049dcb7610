#!/usr/bin/python3
"""Write small PyTorch parity fixtures for the C++ model into tests/data/.

For each configuration the reference model is built (float32, dropout 0) and
one safetensors file is written holding:
  <state_dict key>      every state_dict entry (parameters and tril buffers)
  input.idx             I64 (B, T) random token ids
  input.targets         I64 (B, T) random token ids
  output.logits         F32 (B, T, V)
  output.loss           F32 ()      mean cross-entropy
  grad.<param name>     F32          d loss / d param, for every parameter
  adamw.losses          F32 (10,)   starting from the same initial weights, 10 steps of
                                    torch.optim.AdamW(model.parameters(), lr) on that same
                                    batch; losses[k] is the loss before the k-th update
__metadata__ holds the configuration as strings.

Usage: tools/make_parity_fixture.py [--out-dir tests/data] [--only NAME ...]
"""

import argparse
import copy
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference_model as rm  # noqa: E402
from safetensors_io import save_file  # noqa: E402

ADAMW_STEPS = 10

CONFIGS = [
    dict(name="parity_small", vocab_size=11, block_size=8, n_embed=16, n_head=4, n_layer=2,
         dropout=0.0, learning_rate=1e-2, batch_size=4, seq_len=8, seed=1337),
    dict(name="parity_odd", vocab_size=13, block_size=5, n_embed=12, n_head=3, n_layer=1,
         dropout=0.0, learning_rate=1e-2, batch_size=3, seq_len=5, seed=7),
    # The LayerNorm placements other than the reference's (GPTConfig::norm).
    dict(name="parity_post", vocab_size=11, block_size=8, n_embed=16, n_head=4, n_layer=2,
         dropout=0.0, learning_rate=1e-2, batch_size=4, seq_len=8, seed=1337, norm="post"),
    dict(name="parity_none", vocab_size=11, block_size=8, n_embed=16, n_head=4, n_layer=2,
         dropout=0.0, learning_rate=1e-2, batch_size=4, seq_len=8, seed=1337, norm="none"),
]


def make_fixture(cfg):
    torch.manual_seed(cfg["seed"])
    model = rm.build_model(cfg["vocab_size"], cfg)
    model.train()  # dropout is 0.0, so train and eval mode agree
    adam_model = copy.deepcopy(model)  # same initial weights for the optimizer run

    B, T, V = cfg["batch_size"], cfg["seq_len"], cfg["vocab_size"]
    idx = torch.randint(V, (B, T), dtype=torch.long)
    targets = torch.randint(V, (B, T), dtype=torch.long)

    tensors = {}
    for key, value in model.state_dict().items():
        tensors[key] = value.detach().clone()

    logits, loss = model(idx, targets)
    model.zero_grad(set_to_none=True)
    loss.backward()
    tensors["input.idx"] = idx.clone()
    tensors["input.targets"] = targets.clone()
    tensors["output.logits"] = logits.detach().clone()
    tensors["output.loss"] = loss.detach().clone().reshape(())
    for name, p in model.named_parameters():
        tensors["grad." + name] = p.grad.detach().clone()

    optimizer = torch.optim.AdamW(adam_model.parameters(), lr=cfg["learning_rate"])
    losses = torch.zeros(ADAMW_STEPS, dtype=torch.float32)
    for k in range(ADAMW_STEPS):
        _, step_loss = adam_model(idx, targets)
        losses[k] = step_loss.detach()
        optimizer.zero_grad(set_to_none=True)
        step_loss.backward()
        optimizer.step()
    tensors["adamw.losses"] = losses

    for key, value in tensors.items():
        if value.is_floating_point():
            assert value.dtype == torch.float32, key

    metadata = {key: str(cfg[key]) for key in
                ("vocab_size", "block_size", "n_embed", "n_head", "n_layer", "dropout",
                 "learning_rate", "batch_size", "seed")}
    if "norm" in cfg:  # absent: pre, as babygpt reads it
        metadata["norm"] = cfg["norm"]
    metadata["seq_len"] = str(T)
    metadata["adamw_steps"] = str(ADAMW_STEPS)
    metadata["torch_version"] = torch.__version__
    metadata["generator"] = "tools/make_parity_fixture.py"
    return tensors, metadata


def main(argv=None):
    parser = argparse.ArgumentParser(description="write PyTorch parity fixtures")
    parser.add_argument("--out-dir", default=os.path.join(os.path.dirname(HERE), "tests", "data"))
    parser.add_argument("--only", nargs="+", metavar="NAME", help="write only these fixtures (e.g. parity_post)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    os.makedirs(args.out_dir, exist_ok=True)
    for cfg in CONFIGS:
        if args.only and cfg["name"] not in args.only:
            continue
        tensors, metadata = make_fixture(cfg)
        path = os.path.join(args.out_dir, cfg["name"] + ".safetensors")
        save_file(tensors, path, metadata)
        print("%s: %d tensors, %d bytes, loss %.6f, adamw loss %.6f -> %.6f"
              % (path, len(tensors), os.path.getsize(path), tensors["output.loss"].item(),
                 tensors["adamw.losses"][0].item(), tensors["adamw.losses"][-1].item()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
