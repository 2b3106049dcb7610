#!/usr/bin/python3
"""Train the reference BabyGPT (PyTorch) on a text file and report throughput.

Progress lines follow the reference:
  step {iter}: train loss {:.4f}, val loss {:.4f}, speed: {:.2f} tokens/sec
printed at step 0, every eval_interval steps and at step max_iters-1 (the
evaluation happens before that step's update, as in the original loop).
speed = training tokens (batch_size * block_size per step) processed so far
divided by the training time so far (evaluation time excluded; 0 at step 0).
The last line is machine-readable:
  RESULT tokens_per_sec=<float> final_val_loss=<float> params=<int> [generate_tokens_per_sec=<float>]
"""

import argparse
import math
import resource
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_model as rm  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="UTF-8 text file")
    p.add_argument("--preset", choices=sorted(rm.PRESETS), default="v9")
    p.add_argument("--max-iters", type=int)
    p.add_argument("--eval-interval", type=int)
    p.add_argument("--eval-iters", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--block-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--generate", type=int, default=0, metavar="N",
                   help="after training, time the generation of N new tokens from a newline prompt")
    p.add_argument("--no-eval", action="store_true", help="skip all evaluations (pure throughput)")
    p.add_argument("--warmup", type=int, default=0, metavar="N",
                   help="leave the first N steps out of the tokens/s figure (allocator and cache warm-up)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = dict(rm.PRESETS[args.preset])
    for key in ("max_iters", "eval_interval", "eval_iters", "batch_size", "block_size", "learning_rate"):
        value = getattr(args, key)
        if value is not None:
            cfg[key] = value
    torch.set_num_threads(args.threads)

    with open(args.data, "r", encoding="utf-8") as f:
        text = f.read()
    vocab = rm.Vocabulary(text)
    data = torch.tensor(vocab.encode(text), dtype=torch.long)
    train_data, val_data = rm.split_data(data)
    splits = {"train": train_data, "val": val_data}

    torch.manual_seed(args.seed)
    model = rm.build_model(len(vocab), cfg)
    n_params = rm.count_parameters(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["learning_rate"])

    print("preset %s: %s" % (args.preset, " ".join("%s=%s" % kv for kv in sorted(cfg.items()))))
    print("data %s: %d characters, vocab_size %d, params %d (%.2f M), threads %d, seed %d"
          % (args.data, len(data), len(vocab), n_params, n_params / 1e6, torch.get_num_threads(), args.seed))
    sys.stdout.flush()

    batch_size, block_size = cfg["batch_size"], cfg["block_size"]
    max_iters, eval_interval = cfg["max_iters"], cfg["eval_interval"]
    tokens_per_step = batch_size * block_size
    train_time = 0.0
    tokens_done = 0
    final_val = float("nan")
    model.train()
    for it in range(max_iters):
        if not args.no_eval and (it % eval_interval == 0 or it == max_iters - 1):
            losses = rm.estimate_loss(model, splits, cfg["eval_iters"], batch_size, block_size)
            final_val = losses["val"]
            speed = tokens_done / train_time if train_time > 0 else 0.0
            print("step {}: train loss {:.4f}, val loss {:.4f}, speed: {:.2f} tokens/sec".format(
                it, losses["train"], losses["val"], speed))
            sys.stdout.flush()
        t0 = time.perf_counter()
        xb, yb = rm.get_batch(train_data, batch_size, block_size)
        _, loss = model(xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if it >= args.warmup:
            train_time += time.perf_counter() - t0
            tokens_done += tokens_per_step

    tokens_per_sec = tokens_done / train_time if train_time > 0 else 0.0
    # Peak resident memory of training (Linux reports kilobytes), before generation adds anything.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result = "RESULT tokens_per_sec=%.2f final_val_loss=%s params=%d peak_rss_mb=%.1f" % (
        tokens_per_sec, "nan" if math.isnan(final_val) else "%.4f" % final_val, n_params, peak_rss_mb)

    if args.generate > 0:
        model.eval()
        start = vocab.stoi.get("\n", 0)
        context = torch.tensor([[start]], dtype=torch.long)
        with torch.no_grad():
            t0 = time.perf_counter()
            out = model.generate(context, args.generate)
            gen_time = time.perf_counter() - t0
        gen_tps = args.generate / gen_time if gen_time > 0 else 0.0
        print("generated %d tokens in %.3f s: %.2f tokens/sec" % (args.generate, gen_time, gen_tps))
        print("-----")
        print(vocab.decode(out[0].tolist()))
        print("-----")
        result += " generate_tokens_per_sec=%.2f" % gen_tps

    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
