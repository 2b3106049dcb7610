#!/usr/bin/env python3
"""The table and the figure of a tutorial ladder run (examples/tutorial/run_ladder.sh).

    tools/ladder_report.py --logs DIR --corpus NAME --table OUT.md --svg OUT.svg

Reads DIR/<step>.seed<seed>.log, each the output of one step program followed by a line
"wall_seconds S", and writes a Markdown table (per step: what it adds, parameters, the final train and
val loss at the last evaluation as mean and spread over the seeds, the iteration of that evaluation,
tokens/s and wall time as medians) and an SVG of every
step's validation loss against the iteration (the mean over the seeds). Standard library only.
"""

import argparse
import glob
import os
import re
import statistics
import sys

STEPS = [
    ("v1_bigram", "token embedding and a linear head"),
    ("v2_position", "a learned position embedding"),
    ("v3_self_attention", "one causal self-attention head"),
    ("v4_multihead_attention", "several heads, concatenated"),
    ("v5_feedforward", "a feed-forward layer after attention"),
    ("v6_block", "n_layer blocks, no residual"),
    ("v7_residual_connection", "residual connections"),
    ("v8_projection", "attention projection, 4C feed-forward"),
    ("v9_layer_norm", "Pre-LN LayerNorms"),
    ("v10_dropout", "dropout 0.2"),
    ("v11_hyper_params", "the large configuration"),
]
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#000000"]
EVAL = re.compile(r"^step (\d+): train loss ([0-9.]+), val loss ([0-9.]+), speed: ([0-9.]+) tokens/sec$")


def read_run(path):
    run = dict(evals=[], parameters=None, wall=None)
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = EVAL.match(line)
            if m:
                run["evals"].append((int(m.group(1)), float(m.group(2)), float(m.group(3)), float(m.group(4))))
            elif " parameters, vocabulary of " in line and run["parameters"] is None:
                run["parameters"] = int(line.split(": ", 1)[1].split(" ")[0])
            elif line.startswith("wall_seconds "):
                run["wall"] = float(line.split()[1])
    return run


def spread(values):
    if len(values) == 1:
        return "%.4f" % values[0]
    return "%.4f ± %.4f" % (statistics.mean(values), statistics.stdev(values))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--svg", required=True)
    args = parser.parse_args(argv)

    # The tutorial's steps in order, then any other program whose logs are there (an exercise's).
    known = [name for name, _ in STEPS]
    found = sorted({os.path.basename(p).split(".seed")[0] for p in glob.glob(os.path.join(args.logs, "*.seed*.log"))})
    steps = STEPS + [(name, "(not a step of the tutorial)") for name in found if name not in known]
    rows, curves = [], []
    for index, (step, adds) in enumerate(steps):
        runs = [read_run(p) for p in sorted(glob.glob(os.path.join(args.logs, step + ".seed*.log")))]
        runs = [r for r in runs if r["evals"] and r["wall"] is not None]
        if not runs:
            continue
        final = [r["evals"][-1] for r in runs]
        speeds = [e[3] for r in runs for e in r["evals"][1:]] or [e[3] for r in runs for e in r["evals"]]
        rows.append("| {} | {} | {} | {:,} | {} | {} | {} | {:,.0f} | {:.1f} s | {} |".format(
            index + 1, step, adds, runs[0]["parameters"], final[0][0], spread([e[1] for e in final]),
            spread([e[2] for e in final]),
            statistics.median(speeds), statistics.median(r["wall"] for r in runs), len(runs)))
        iterations = [e[0] for e in runs[0]["evals"]]
        mean_val = [statistics.mean(r["evals"][k][2] for r in runs) for k in range(len(iterations))]
        curves.append((index, step, iterations, mean_val, len(runs)))

    if not rows:
        print("ladder_report.py: no complete runs in %s" % args.logs, file=sys.stderr)
        return 1
    with open(args.table, "w", encoding="utf-8") as f:
        f.write("| step | program | adds | parameters | last evaluation | final train loss | final val loss | tokens/s "
                "| wall time | seeds |\n")
        f.write("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
        f.write("\n".join(rows) + "\n")
    with open(args.svg, "w", encoding="utf-8") as f:
        f.write(svg(curves, args.corpus))
    print("wrote %s and %s" % (args.table, args.svg))
    return 0


def svg(curves, corpus):
    width, height, left, right, top, bottom = 1000, 520, 70, 330, 40, 50
    x_max = max(c[2][-1] for c in curves) or 1
    values = [v for c in curves for v in c[3]]
    y_low, y_high = min(values), max(values)
    y_low, y_high = y_low - 0.05 * (y_high - y_low), y_high + 0.05 * (y_high - y_low)

    def x(i):
        return left + (width - left - right) * i / x_max

    def y(v):
        return top + (height - top - bottom) * (y_high - v) / (y_high - y_low)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">'
           % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15">The tutorial ladder on %s: validation loss (mean over seeds)</text>'
           % (left, escape(corpus))]
    for k in range(6):  # horizontal grid and loss labels
        v = y_low + (y_high - y_low) * k / 5
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (left, width - right, y(v), y(v)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%.2f</text>' % (left - 6, y(v) + 4, v))
    for k in range(6):  # iteration labels
        i = x_max * k / 5
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x(i), height - bottom + 18, i))
    out.append('<text x="%d" y="%d" text-anchor="middle">iteration</text>' % ((left + width - right) / 2, height - 10))
    out.append('<text transform="translate(16,%d) rotate(-90)" text-anchor="middle">validation loss</text>'
               % ((top + height - bottom) / 2))
    for n, (index, step, iterations, mean_val, seeds) in enumerate(curves):
        colour = COLOURS[index % len(COLOURS)]
        points = " ".join("%.1f,%.1f" % (x(i), y(v)) for i, v in zip(iterations, mean_val))
        out.append('<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>' % (colour, points))
        notes = (["1 seed"] if seeds == 1 else []) + (
            ["to iteration %d" % iterations[-1]] if iterations[-1] < 0.9 * x_max else [])  # a shorter run (step 11)
        label = "%d %s" % (index + 1, step) + (" (%s)" % ", ".join(notes) if notes else "")
        out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/>'
                   % (width - right + 15, width - right + 35, top + 18 * n + 10, top + 18 * n + 10, colour))
        out.append('<text x="%d" y="%d">%s</text>' % (width - right + 40, top + 18 * n + 14, escape(label)))
    out.append("</svg>\n")
    return "\n".join(out)


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


if __name__ == "__main__":
    sys.exit(main())
