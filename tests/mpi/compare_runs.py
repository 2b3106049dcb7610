#!/usr/bin/env python3
"""Compares two training runs of babygpt: the losses of their metrics CSVs at every evaluation both made
(a resumed run also evaluates where it was interrupted), and the parameters of their checkpoints
(safetensors, float32). Exits 1, naming the worst difference, when
either is above its tolerance.

    compare_runs.py A.safetensors B.safetensors [--loss-tolerance 1e-3] [--parameter-tolerance 1e-4]

The metrics are read from the CSV next to each checkpoint (A.csv, B.csv).
"""
import argparse
import csv
import json
import pathlib
import struct
import sys
from array import array


def read_safetensors(path):
    """{name: array of floats} of a safetensors file's float32 tensors."""
    data = pathlib.Path(path).read_bytes()
    (header_size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_size])
    body = data[8 + header_size:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name} is {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        values = array("f")
        values.frombytes(body[begin:end])
        if sys.byteorder != "little":
            values.byteswap()
        tensors[name] = values
    return tensors


def read_metrics(checkpoint):
    with open(pathlib.Path(checkpoint).with_suffix(".csv"), newline="") as f:
        return {int(row["step"]): (float(row["train_loss"]), float(row["val_loss"])) for row in csv.DictReader(f)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--loss-tolerance", type=float, default=1e-3)
    parser.add_argument("--parameter-tolerance", type=float, default=1e-4)
    args = parser.parse_args()

    failures = []
    metrics_a, metrics_b = read_metrics(args.a), read_metrics(args.b)
    common = sorted(set(metrics_a) & set(metrics_b))
    if not common or common[-1] != max(metrics_a) or common[-1] != max(metrics_b):
        failures.append(f"the runs do not end with the same evaluation: steps {sorted(metrics_a)} vs {sorted(metrics_b)}")
    worst_loss = (0.0, None)
    for step in common:
        for which, x, y in zip(("train", "val"), metrics_a[step], metrics_b[step]):
            worst_loss = max(worst_loss, (abs(x - y), f"{which} loss at step {step}: {x} vs {y}"), key=lambda w: w[0])
    print(f"losses: {len(common)} evaluations, largest difference {worst_loss[0]:.3g}"
          + (f" ({worst_loss[1]})" if worst_loss[1] else ""))
    if worst_loss[0] > args.loss_tolerance:
        failures.append(f"losses differ by {worst_loss[0]:.3g} > {args.loss_tolerance}: {worst_loss[1]}")

    tensors_a, tensors_b = read_safetensors(args.a), read_safetensors(args.b)
    if sorted(tensors_a) != sorted(tensors_b):
        failures.append("the checkpoints hold different tensors")
    worst_parameter = (0.0, None)
    for name in sorted(set(tensors_a) & set(tensors_b)):
        a, b = tensors_a[name], tensors_b[name]
        if len(a) != len(b):
            failures.append(f"{name}: {len(a)} vs {len(b)} values")
            continue
        difference = max((abs(x - y) for x, y in zip(a, b)), default=0.0)
        worst_parameter = max(worst_parameter, (difference, name), key=lambda w: w[0])
    print(f"parameters: {len(tensors_a)} tensors, largest difference {worst_parameter[0]:.3g}"
          + (f" (in {worst_parameter[1]})" if worst_parameter[1] else ""))
    if worst_parameter[0] > args.parameter_tolerance:
        failures.append(f"parameters differ by {worst_parameter[0]:.3g} > {args.parameter_tolerance} in {worst_parameter[1]}")

    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
