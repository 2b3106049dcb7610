#!/usr/bin/python3
"""Check that an exported checkpoint loads into the reference PyTorch model.

  tools/check_export.py --weights model.safetensors --io io.safetensors [--atol 1e-5]

The weights file must hold exactly the reference state_dict keys (including
the tril buffers) and a __metadata__ map with vocab_size, block_size, n_embed,
n_head, n_layer (dropout optional, default 0).  The model is built, loaded with
load_state_dict(strict=True), run in eval mode on `input.idx` of the io file
and its logits are compared with `output.logits` of the io file.  When the io
file also holds `input.targets` and `output.loss`, the loss is compared too.
Exit status 0 when everything is within atol, 1 otherwise.
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_model as rm  # noqa: E402
from safetensors_io import SafetensorsError, load_file, load_file_with_metadata  # noqa: E402

REQUIRED_META = ("vocab_size", "block_size", "n_embed", "n_head", "n_layer")


def fail(msg):
    print("FAIL: " + msg)
    return 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", required=True, help="safetensors checkpoint with __metadata__")
    p.add_argument("--io", required=True, help="safetensors file with input.idx and output.logits")
    p.add_argument("--atol", type=float, default=1e-5)
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    try:
        weights, meta = load_file_with_metadata(args.weights)
    except (OSError, SafetensorsError) as exc:
        return fail("cannot read weights file: %s" % exc)
    try:
        io = load_file(args.io)
    except (OSError, SafetensorsError) as exc:
        return fail("cannot read io file: %s" % exc)

    missing_meta = [k for k in REQUIRED_META if k not in meta]
    if missing_meta:
        return fail("weights __metadata__ lacks %s (has: %s)" % (", ".join(missing_meta), sorted(meta)))
    try:
        cfg = {k: int(meta[k]) for k in REQUIRED_META}
        cfg["dropout"] = float(meta.get("dropout", "0"))
    except ValueError as exc:
        return fail("bad value in __metadata__: %s" % exc)
    print("config: " + ", ".join("%s=%s" % (k, cfg[k]) for k in REQUIRED_META + ("dropout",)))
    if cfg["n_head"] <= 0 or cfg["n_embed"] % cfg["n_head"] != 0:
        return fail("n_embed %d is not divisible by n_head %d" % (cfg["n_embed"], cfg["n_head"]))

    model = rm.build_model(cfg["vocab_size"], cfg)
    expected = model.state_dict()

    # Explain key and shape problems before handing over to load_state_dict.
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    wrong_shape = [(k, list(weights[k].shape), list(expected[k].shape))
                   for k in expected if k in weights and weights[k].shape != expected[k].shape]
    wrong_dtype = [(k, weights[k].dtype) for k in expected
                   if k in weights and not weights[k].is_floating_point()]
    problems = []
    for k in missing:
        problems.append("missing key: %s %s" % (k, list(expected[k].shape)))
    for k in unexpected:
        problems.append("unexpected key: %s %s" % (k, list(weights[k].shape)))
    for k, got, want in wrong_shape:
        problems.append("shape mismatch: %s is %s, expected %s" % (k, got, want))
    for k, dt in wrong_dtype:
        problems.append("dtype: %s is %s, expected a floating-point type" % (k, dt))
    if problems:
        for line in problems:
            print("  " + line)
        return fail("%d problem(s) in the weights file" % len(problems))
    for k, v in weights.items():
        if v.dtype != torch.float32:
            print("note: %s is stored as %s; converted to float32" % (k, v.dtype))
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        return fail("load_state_dict(strict=True) raised: %s" % exc)
    print("load_state_dict(strict=True): OK (%d entries, %d parameters)"
          % (len(weights), rm.count_parameters(model)))
    for (l, h) in [(l, h) for l in range(cfg["n_layer"]) for h in range(cfg["n_head"])]:
        tril = weights["blocks.%d.sa.heads.%d.tril" % (l, h)]
        if not torch.equal(tril.float(), torch.tril(torch.ones_like(tril.float()))):
            print("warning: blocks.%d.sa.heads.%d.tril is not lower-triangular ones" % (l, h))

    for key in ("input.idx", "output.logits"):
        if key not in io:
            return fail("io file lacks %s (has: %s)" % (key, sorted(io)))
    idx = io["input.idx"]
    if idx.is_floating_point() or idx.dim() != 2:
        return fail("input.idx must be a 2-D integer tensor, got %s %s" % (idx.dtype, list(idx.shape)))
    idx = idx.long()
    B, T = idx.shape
    if T > cfg["block_size"]:
        return fail("input.idx has T=%d > block_size %d" % (T, cfg["block_size"]))
    if idx.numel() and (idx.min() < 0 or idx.max() >= cfg["vocab_size"]):
        return fail("input.idx holds ids outside [0, %d)" % cfg["vocab_size"])
    ref_logits = io["output.logits"].float()
    if list(ref_logits.shape) != [B, T, cfg["vocab_size"]]:
        return fail("output.logits has shape %s, expected %s"
                    % (list(ref_logits.shape), [B, T, cfg["vocab_size"]]))

    model.eval()
    targets = io.get("input.targets")
    with torch.no_grad():
        if targets is not None and "output.loss" in io:
            logits, loss = model(idx, targets.long())
        else:
            logits, loss = model(idx)
    ok = True
    diff = (logits - ref_logits).abs().max().item() if logits.numel() else 0.0
    print("logits: max abs difference %.3e (atol %.1e) over shape %s" % (diff, args.atol, list(logits.shape)))
    if not diff <= args.atol:  # also catches NaN
        ok = False
    if loss is not None:
        ldiff = abs(loss.item() - io["output.loss"].float().item())
        print("loss: pytorch %.6f, file %.6f, abs difference %.3e"
              % (loss.item(), io["output.loss"].float().item(), ldiff))
        if not ldiff <= args.atol:
            ok = False
    if ok:
        print("PASS")
        return 0
    return fail("difference exceeds atol %.1e" % args.atol)


if __name__ == "__main__":
    sys.exit(main())
