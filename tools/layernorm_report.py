#!/usr/bin/env python3
"""The tables and figures of a LayerNorm study (tools/layernorm_study.sh).

    tools/layernorm_report.py --runs DIR --corpus NAME [--data FILE]

Reads every DIR/L<n_layer>_<norm>_lr<lr>_s<seed>.{csv,stats.csv,rc} (the metrics, the --log-stats
rows and the trainer's exit code) and writes, into DIR:
  report.md              the tables: final losses, losses along the way and when each placement reaches
                         the final loss of the model without LayerNorm, and the residual stream's spread
                         and the blocks' gradient norms (learning rates 1e-3 and 1e-2);
  curves_L<n>.svg        validation loss against step, one panel per learning rate, one line per
                         placement (the mean over seeds; a diverged run ends where it stopped);
  activation_std_L<n>.svg  the standard deviation of the residual stream leaving each block, at
                         initialisation and at the end, per placement (learning rates 1e-3 and 1e-2);
  grad_norm_L<n>.svg     the gradient norm of each block's parameters at the end (the same rates).
A run diverged when the trainer stopped on a NaN or infinite loss (exit code 3) or when its validation
loss rose above its first value (at initialisation) at any evaluation, even if it came down again.
With --data (the corpus), the report gives a unigram model's loss as a baseline, draws it, and counts
the runs stuck at it. Standard library only.
"""

import argparse
import csv
import glob
import math
import os
import re
import statistics
import sys

NAME = re.compile(r"^L(\d+)_(none|pre|post)_lr([0-9.e-]+)_s(\d+)$")
NORMS = ["none", "pre", "post"]
COLOURS = {"none": "#d62728", "pre": "#1f77b4", "post": "#2ca02c"}
STATS_RATES = ["1e-3", "1e-2"]  # the learning rates whose block statistics are tabled and drawn
STUCK_MARGIN = 0.05  # a run ending this close to the unigram model's loss, or above it, is stuck


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def load_runs(directory):
    runs = []
    for rc_path in sorted(glob.glob(os.path.join(directory, "*.rc"))):
        stem = rc_path[:-3]
        m = NAME.match(os.path.basename(stem))
        if not m:
            continue
        with open(rc_path) as f:
            rc = int(f.read().strip() or "1")
        metrics = read_csv(stem + ".csv")
        stats = read_csv(stem + ".stats.csv")
        if not metrics:
            continue
        diverged = rc == 3 or any(not math.isfinite(r["val_loss"]) or r["val_loss"] > metrics[0]["val_loss"]
                                  for r in metrics)
        runs.append(dict(layers=int(m.group(1)), norm=m.group(2), lr=m.group(3), seed=int(m.group(4)), rc=rc,
                         metrics=metrics, stats=stats, diverged=diverged, complete=rc in (0, 3)))
    return runs


def group(runs, **keys):
    return [r for r in runs if all(r[k] == v for k, v in keys.items())]


def is_tiny(v):
    """Too small for four decimals (a vanished gradient): written in three significant digits instead."""
    return v != 0 and math.isfinite(v) and abs(v) < 0.01


def number(v):
    return "%.3g" % v if is_tiny(v) else "%.4f" % v


def mean_sd(values):
    if not values:
        return "-"
    if len(values) == 1:
        return number(values[0])
    m = statistics.mean(values)
    return ("%.3g ± %.3g" if is_tiny(m) else "%.4f ± %.4f") % (m, statistics.stdev(values))


def val_loss_at(run, step):
    """The validation loss at `step` (None: the last evaluation), or None if the run has no such step."""
    if step is None:
        return run["metrics"][-1]["val_loss"]
    return next((m["val_loss"] for m in run["metrics"] if m["step"] == step), None)


def lr_key(lr):
    return float(lr)


def final_loss_table(runs, layers, rates, baseline):
    out = ["Final validation loss (mean ± standard deviation over the seeds that did not diverge), diverged "
           "runs, and runs that did not diverge but ended within %.2f of the unigram model's loss or above "
           "it (stuck: they learned character frequencies only):" % STUCK_MARGIN, "",
           "| norm | " + " | ".join("lr %s" % lr for lr in rates) + " |",
           "| --- | " + " | ".join("---:" for _ in rates) + " |"]
    for norm in NORMS:
        cells = []
        for lr in rates:
            g = group(runs, layers=layers, norm=norm, lr=lr)
            ok = [r["metrics"][-1]["val_loss"] for r in g if not r["diverged"]]
            diverged = sum(r["diverged"] for r in g)
            stuck = sum(1 for v in ok if baseline is not None and v >= baseline - STUCK_MARGIN)
            notes = (["%d of %d diverged" % (diverged, len(g))] if diverged else []) + (
                ["%d of %d stuck" % (stuck, len(g))] if stuck else [])
            cells.append(mean_sd(ok) + (" (%s)" % ", ".join(notes) if notes else ""))
        out.append("| %s | %s |" % (norm, " | ".join(cells)))
    return out


def convergence_table(runs, layers, rates):
    out = ["Validation loss at steps 200, 1000 and 2000 and at the end (mean ± standard deviation over "
           "the seeds that did not diverge), and the first evaluation at which the mean curve is at or below "
           "the final loss of the runs without LayerNorm (none) at the same learning rate:", "",
           "| lr | norm | step 200 | step 1000 | step 2000 | last | reaches none's final loss at step |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for lr in rates:
        plain = [r for r in group(runs, layers=layers, norm="none", lr=lr) if not r["diverged"]]
        target = statistics.mean(r["metrics"][-1]["val_loss"] for r in plain) if plain else None
        for norm in NORMS:
            g = [r for r in group(runs, layers=layers, norm=norm, lr=lr) if not r["diverged"]]
            cells = []
            for step in (200, 1000, 2000, None):
                values = [val_loss_at(r, step) for r in g]
                cells.append(mean_sd([v for v in values if v is not None]))
            reached = "(the reference)" if norm == "none" else "-"
            if g and target is not None and norm != "none":
                steps, values = mean_curve(g)
                reached = next(("%d" % st for st, v in zip(steps, values) if v <= target), "never")
            out.append("| %s | %s | %s | %s |" % (lr, norm, " | ".join(cells), reached))
    return out


def block_stats_table(runs, layers, lr):
    out = ["Standard deviation of the residual stream leaving the first and the last block, and the "
           "ratio of the first block's gradient norm to the last block's, at the last evaluation, and the "
           "standard deviations at initialisation (mean ± standard deviation over the seeds that did not "
           "diverge, learning rate %s):" % lr, "",
           "| norm | std, block 0 | std, last block | grad norm, block 0 / last | at initialisation: std, block 0 "
           "| std, last block |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for norm in NORMS:
        g = [r for r in group(runs, layers=layers, norm=norm, lr=lr) if r["stats"] and not r["diverged"]]
        first, last, ratio, first_init, last_init = [], [], [], [], []
        for r in g:
            final, initial = stats_at(r, "last"), stats_at(r, "first")
            first.append(final[0]["output_std"])
            last.append(final[-1]["output_std"])
            ratio.append(final[0]["grad_norm"] / final[-1]["grad_norm"] if final[-1]["grad_norm"] > 0 else math.nan)
            first_init.append(initial[0]["output_std"])
            last_init.append(initial[-1]["output_std"])
        out.append("| %s | %s | %s | %s | %s | %s |" % (norm, mean_sd(first), mean_sd(last), mean_sd(ratio),
                                                    mean_sd(first_init), mean_sd(last_init)))
    return out


def tables(runs, corpus, baseline):
    out = ["# LayerNorm study on %s" % corpus, ""]
    if baseline is not None:
        out += ["A unigram model (each character's frequency in the training part, add-one smoothed) has "
                "validation loss %.4f: a run near it has learned character frequencies and nothing else." % baseline, ""]
    rates = sorted({r["lr"] for r in runs}, key=lr_key)
    for layers in sorted({r["layers"] for r in runs}):
        out += ["## n_layer %d" % layers, ""] + final_loss_table(runs, layers, rates, baseline)
        out += [""] + convergence_table(runs, layers, rates)
        for lr in STATS_RATES:
            out += [""] + block_stats_table(runs, layers, lr)
        out.append("")
    return "\n".join(out) + "\n"


def round_ticks(low, high):
    """About five ticks at multiples of 1, 2 or 5 times a power of ten, within [low, high]."""
    raw = (high - low) / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [first + k * step for k in range(int((high - first) / step) + 1)]


class Chart:
    """A small SVG line chart: one panel, axes from the data, lines and a legend."""

    def __init__(self, x0, y0, width, height, title, xlabel, ylabel, log_y=False, y_cap=None):
        self.box = (x0, y0, width, height)
        self.title, self.xlabel, self.ylabel, self.log_y = title, xlabel, ylabel, log_y
        self.y_cap = y_cap  # values above are drawn at the cap (a diverged run would flatten the others)
        self.lines = []
        self.reference = None  # (value, label): a dashed grey horizontal line, e.g. a baseline loss

    def add(self, xs, ys, colour, label, dashed=False):
        points = [(x, y) for x, y in zip(xs, ys) if math.isfinite(y) and (y > 0 or not self.log_y)]
        if self.y_cap is not None:
            points = [(x, min(y, self.y_cap)) for x, y in points]
        if points:
            self.lines.append((points, colour, label, dashed))

    def svg(self):
        x0, y0, w, h = self.box
        out = ['<text x="%d" y="%d" font-size="13">%s</text>' % (x0, y0 - 8, self.title)]
        if not self.lines:
            return "\n".join(out)
        f = math.log10 if self.log_y else (lambda v: v)
        xs = [p[0] for line in self.lines for p in line[0]]
        ys = [f(p[1]) for line in self.lines for p in line[0]] + ([f(self.reference[0])] if self.reference else [])
        x_low, x_high = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
        y_low, y_high = min(ys), max(ys)
        if y_high - y_low < 1e-9:
            y_low, y_high = y_low - 0.5, y_high + 0.5
        pad = 0.05 * (y_high - y_low)
        y_low, y_high = y_low - pad, y_high + pad

        def px(x):
            return x0 + w * (x - x_low) / (x_high - x_low)

        def py(y):
            return y0 + h * (y_high - f(y)) / (y_high - y_low)

        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>' % (x0, y0, w, h))
        for k in range(5):
            v = y_low + (y_high - y_low) * k / 4
            label = ("%.3g" % 10 ** v) if self.log_y else ("%.2f" % v)
            yy = y0 + h * (y_high - v) / (y_high - y_low)
            out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>' % (x0, x0 + w, yy, yy))
            out.append('<text x="%d" y="%.1f" text-anchor="end" font-size="10">%s</text>' % (x0 - 4, yy + 3, label))
        if all(float(x).is_integer() for x in xs) and x_high - x_low <= 24:  # blocks: every integer
            ticks = range(int(x_low), int(x_high) + 1)
        else:
            ticks = round_ticks(x_low, x_high)
        for v in ticks:
            out.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="10">%g</text>' % (px(v), y0 + h + 13, v))
        out.append('<text x="%d" y="%d" text-anchor="middle" font-size="11">%s</text>' % (x0 + w / 2, y0 + h + 28, self.xlabel))
        out.append('<text transform="translate(%d,%d) rotate(-90)" text-anchor="middle" font-size="11">%s</text>'
                   % (x0 - 50, y0 + h / 2, self.ylabel))
        if self.reference:
            value, label = self.reference
            out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#777" stroke-dasharray="2,3"/>' % (
                x0, x0 + w, py(value), py(value)))
            out.append('<text x="%d" y="%.1f" text-anchor="end" font-size="10" fill="#555">%s</text>' % (
                x0 + w - 4, py(value) - 4, label))
        for n, (points, colour, label, dashed) in enumerate(self.lines):
            out.append('<polyline fill="none" stroke="%s" stroke-width="1.6"%s points="%s"/>' % (
                colour, ' stroke-dasharray="5,3"' if dashed else "",
                " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in points)))
            out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/>' % (
                x0 + w + 8, x0 + w + 24, y0 + 10 + 13 * n, y0 + 10 + 13 * n, colour,
                ' stroke-dasharray="4,2"' if dashed else ""))
            out.append('<text x="%d" y="%d" font-size="10">%s</text>' % (x0 + w + 28, y0 + 14 + 13 * n, label))
        return "\n".join(out)


def page(charts, width, height, title):
    body = "\n".join(c.svg() for c in charts)
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">\n'
            '<rect width="100%%" height="100%%" fill="white"/>\n<text x="20" y="22" font-size="15">%s</text>\n%s\n</svg>\n'
            % (width, height, title, body))


def mean_curve(runs):
    """Steps and the mean validation loss over the runs, as far as every run got."""
    length = min(len(r["metrics"]) for r in runs)
    steps = [m["step"] for m in runs[0]["metrics"][:length]]
    return steps, [statistics.mean(r["metrics"][k]["val_loss"] for r in runs) for k in range(length)]


def unigram_loss(path, train_ratio=0.9):
    """The validation loss of a model that ignores context: each character's frequency in the training
    part (the first train_ratio of the characters, as babygpt splits), add-one smoothed over the text's
    characters, scored on the rest. A model at this loss has learned nothing but character frequencies."""
    with open(path, encoding="utf-8-sig") as f:
        text = f.read()
    n_train = int(train_ratio * len(text))
    counts = {c: 1 for c in set(text)}
    for c in text[:n_train]:
        counts[c] += 1
    total = sum(counts.values())
    val = text[n_train:]
    return -sum(math.log(counts[c] / total) for c in val) / len(val)


def curve_panel(runs, layers, lr, k, baseline):
    """Validation loss from the second evaluation on (the first, at initialisation, would set the scale),
    drawn up to a little above where the runs that did not diverge start."""
    by_norm = {norm: group(runs, layers=layers, lr=lr, norm=norm) for norm in NORMS}
    curves = {norm: mean_curve(g) for norm, g in by_norm.items() if g}  # norm -> (steps, mean losses)
    kept = [curves[norm][1][1:] for norm in curves if not all(r["diverged"] for r in by_norm[norm])]
    kept = [c for c in kept if c]
    cap = None
    if kept:
        top, low = max(c[0] for c in kept), min(min(c) for c in kept)
        if baseline is not None:
            top = max(top, baseline)
        cap = top + 0.15 * (top - low)
    chart = Chart(70 + (k % 2) * 470, 60 + (k // 2) * 300, 300, 220,
                  "learning rate %s" % lr + (" (losses above %.2f drawn at it)" % cap if cap else ""), "step",
                  "validation loss", y_cap=cap)
    if baseline is not None:
        chart.reference = (baseline, "unigram model %.3f" % baseline)
    for norm, (steps, values) in curves.items():
        diverged = sum(r["diverged"] for r in by_norm[norm])
        chart.add(steps[1:], values[1:], COLOURS[norm], norm + (" (%d diverged)" % diverged if diverged else ""))
    return chart


def stats_at(run, which):
    """The --log-stats rows of the first evaluation (at initialisation) or the last."""
    step = run["stats"][0]["step"] if which == "first" else run["stats"][-1]["step"]
    return [s for s in run["stats"] if s["step"] == step]


def block_panels(runs, layers, rates):
    """Per learning rate, the residual stream's standard deviation leaving each block (at initialisation
    and at the end) and each block's gradient norm at the end, over the runs that did not diverge."""
    std_charts, grad_charts = [], []
    for k, lr in enumerate(rates):
        std_chart = Chart(80 + k * 520, 60, 330, 300, "residual stream leaving each block, lr %s" % lr, "block",
                          "standard deviation (log scale)", log_y=True)
        grad_chart = Chart(80 + k * 520, 60, 330, 300, "gradient norm of each block, end of training, lr %s" % lr,
                           "block", "gradient norm (log scale)", log_y=True)
        for norm in NORMS:
            g = [r for r in group(runs, layers=layers, norm=norm, lr=lr) if r["stats"] and not r["diverged"]]
            if not g:
                continue
            for which, dashed, label in (("first", True, "at initialisation"), ("last", False, "at the end")):
                per_block = [[s["output_std"] for s in stats_at(r, which)] for r in g]
                blocks = list(range(len(per_block[0])))
                std_chart.add(blocks, [statistics.mean(p[b] for p in per_block) for b in blocks], COLOURS[norm],
                              "%s, %s" % (norm, label), dashed)
            grads = [[s["grad_norm"] for s in stats_at(r, "last")] for r in g]
            blocks = list(range(len(grads[0])))
            grad_chart.add(blocks, [statistics.mean(p[b] for p in grads) for b in blocks], COLOURS[norm], norm)
        std_charts.append(std_chart)
        grad_charts.append(grad_chart)
    return std_charts, grad_charts


def figures(runs, directory, corpus, baseline):
    written = []
    rates = sorted({r["lr"] for r in runs}, key=lr_key)
    for layers in sorted({r["layers"] for r in runs}):
        charts = [curve_panel(runs, layers, lr, k, baseline) for k, lr in enumerate(rates)]
        path = os.path.join(directory, "curves_L%d.svg" % layers)
        with open(path, "w") as f:
            f.write(page(charts, 960, 60 + 300 * ((len(rates) + 1) // 2),
                         "%s, n_layer %d: validation loss (mean over seeds)" % (corpus, layers)))
        written.append(path)
        std_charts, grad_charts = block_panels(runs, layers, STATS_RATES)
        for name, charts in (("activation_std", std_charts), ("grad_norm", grad_charts)):
            path = os.path.join(directory, "%s_L%d.svg" % (name, layers))
            with open(path, "w") as f:
                f.write(page(charts, 1080, 420, "%s, n_layer %d (mean over the seeds that did not diverge)"
                             % (corpus, layers)))
            written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--data", help="the corpus file, for the unigram model's loss (a baseline)")
    args = parser.parse_args(argv)
    runs = load_runs(args.runs)
    if not runs:
        print("layernorm_report.py: no finished runs in %s" % args.runs, file=sys.stderr)
        return 1
    report = os.path.join(args.runs, "report.md")
    baseline = unigram_loss(args.data) if args.data else None
    with open(report, "w") as f:
        f.write(tables(runs, args.corpus, baseline))
    written = figures(runs, args.runs, args.corpus, baseline)
    print("wrote %s and %s" % (report, ", ".join(written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
