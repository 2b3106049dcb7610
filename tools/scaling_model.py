#!/usr/bin/env python3
"""Time per training step of data-parallel training on N machines, on paper (docs/scaling.md).

Each of N machines computes B/N of the batch's rows, then the machines sum their gradients with a ring
all-reduce: every machine sends and receives 2 (N - 1) / N times the gradient's bytes, in 2 (N - 1)
messages, each paying the network's latency. So, per step,

    compute(N)  = C / N                       C: one machine's time for the whole batch (measured)
    allreduce(N) = 2 (N - 1) / N * S / bandwidth + 2 (N - 1) * latency
    step(N)     = compute(N) + allreduce(N)                        without overlap
    step(N)     = compute(N) + max(0, allreduce(N) - hidden(N))    with overlap

where hidden(N) is the part of backward that runs after the first gradients are complete (the
all-reduce can run during it): backward is about two thirds of a step, and the last bucket (the
embeddings, a small part of the gradient) can only start when backward ends. Efficiency is the ideal
C / N over step(N).

    tools/scaling_model.py --compute-seconds 7.3 --parameters 10788929 [--latency-us 50]
"""
import argparse


def allreduce_seconds(n, gradient_bytes, bits_per_second, latency):
    if n == 1:
        return 0.0
    return 2 * (n - 1) / n * gradient_bytes * 8 / bits_per_second + 2 * (n - 1) * latency


def step_seconds(n, compute, gradient_bytes, bits_per_second, latency, overlap):
    local = compute / n
    communication = allreduce_seconds(n, gradient_bytes, bits_per_second, latency)
    if overlap:
        hidden = local * 2 / 3  # backward, which the sums of the buckets completed first run alongside
        communication = max(0.0, communication - hidden)
    return local + communication


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compute-seconds", type=float, required=True,
                        help="one machine's time for one training step of the whole batch")
    parser.add_argument("--parameters", type=int, required=True)
    parser.add_argument("--latency-us", type=float, default=50.0, help="per message (50 us: a plain Ethernet LAN)")
    parser.add_argument("--machines", default="1,2,4,8,16,32,64")
    args = parser.parse_args()

    gradient_bytes = 4 * args.parameters
    latency = args.latency_us * 1e-6
    machines = [int(n) for n in args.machines.split(",")]
    print(f"gradient {gradient_bytes / 1e6:.1f} MB, compute {args.compute_seconds:.2f} s per step on one machine, "
          f"latency {args.latency_us:g} us per message\n")
    print("| machines | network | all-reduce (s) | step, no overlap (s) | efficiency | step, overlap (s) | efficiency |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for gbits in (1, 10):
        for n in machines:
            ideal = args.compute_seconds / n
            plain = step_seconds(n, args.compute_seconds, gradient_bytes, gbits * 1e9, latency, overlap=False)
            overlapped = step_seconds(n, args.compute_seconds, gradient_bytes, gbits * 1e9, latency, overlap=True)
            reduce = allreduce_seconds(n, gradient_bytes, gbits * 1e9, latency)
            print(f"| {n} | {gbits} Gbit/s | {reduce:.3f} | {plain:.3f} | {100 * ideal / plain:.0f}% | "
                  f"{overlapped:.3f} | {100 * ideal / overlapped:.0f}% |")
    print()
    for gbits in (1, 10):
        for overlap in (False, True):
            below = [n for n in range(2, 4097)
                     if args.compute_seconds / n / step_seconds(n, args.compute_seconds, gradient_bytes, gbits * 1e9,
                                                                latency, overlap) < 0.9]
            where = f"from {below[0]} machines on" if below else "not up to 4096 machines"
            print(f"- {gbits} Gbit/s, {'with' if overlap else 'without'} overlap: efficiency below 90% {where}")


if __name__ == "__main__":
    main()
