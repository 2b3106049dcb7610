#!/usr/bin/env python3
"""The numbers in docs/ladder.md and docs/layernorm.md come from tools/ladder_report.py and
tools/layernorm_report.py. This feeds both a few made-up runs whose right answers are known by hand
and checks the tables: means and spreads, the iteration of the final losses, divergence (a loss that
rose above its start counts even if it came back down), runs stuck at the unigram loss, and when a
placement reaches the final loss of the model without LayerNorm.

    python3 tests/docs/report_scripts_test.py <repository root> <scratch dir>
"""

import math
import os
import shutil
import sys

root, scratch = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(root, "tools"))
import ladder_report  # noqa: E402
import layernorm_report  # noqa: E402

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def fresh(name):
    path = os.path.join(scratch, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


# ---- the ladder: two seeds of one step, the table's row ----
logs = fresh("ladder")
for seed, (train, val, wall) in {42: (2.0, 2.1, 10.0), 43: (2.2, 2.3, 14.0)}.items():
    write(os.path.join(logs, "v1_bigram.seed%d.log" % seed),
          "v1_bigram: 4225 parameters, vocabulary of 65 characters\n"
          "step 0: train loss 4.0000, val loss 4.1000, speed: 100.00 tokens/sec\n"
          "step 200: train loss %.4f, val loss %.4f, speed: 300.00 tokens/sec\n"
          "wall_seconds %.1f\n" % (train, val, wall))
table, svg = os.path.join(logs, "table.md"), os.path.join(logs, "curves.svg")
check(ladder_report.main(["--logs", logs, "--corpus", "test.txt", "--table", table, "--svg", svg]) == 0,
      "ladder_report.py failed")
row = [line for line in open(table, encoding="utf-8") if "v1_bigram" in line][0]
cells = [c.strip() for c in row.strip().strip("|").split("|")]
# step, program, adds, parameters, last evaluation, train, val, tokens/s, wall, seeds
check(cells[3] == "4,225", "ladder: parameters %s" % cells[3])
check(cells[4] == "200", "ladder: last evaluation %s" % cells[4])
check(cells[5] == "2.1000 ± %.4f" % math.sqrt(0.02), "ladder: train loss %s" % cells[5])
check(cells[6] == "2.2000 ± %.4f" % math.sqrt(0.02), "ladder: val loss %s" % cells[6])
check(cells[7] == "300", "ladder: tokens/s (the median after step 0) %s" % cells[7])
check(cells[8] == "12.0 s", "ladder: wall time (the median) %s" % cells[8])
check(cells[9] == "2", "ladder: seeds %s" % cells[9])
check(os.path.getsize(svg) > 0, "ladder: no figure")

# ---- the LayerNorm study ----
runs = fresh("study")
corpus = os.path.join(runs, "corpus.txt")
letters = "abcdefghijklmnopqrstuvwxyz"
write(corpus, letters * 10)  # the training part (90%) holds each letter 9 times, the validation part once
unigram = math.log(26)  # add-one: each letter 10 of 260


def run(norm, lr, seed, val_losses, rc=0, layers=3):
    stem = os.path.join(runs, "L%d_%s_lr%s_s%d" % (layers, norm, lr, seed))
    rows = ["step,train_loss,val_loss,tokens_per_sec,elapsed"]
    rows += ["%d,%f,%f,1000,1" % (200 * k, v, v) for k, v in enumerate(val_losses)]
    write(stem + ".csv", "\n".join(rows) + "\n")
    header = "step,block,input_mean,input_std,attention_mean,attention_std,feed_forward_mean,feed_forward_std," \
             "output_mean,output_std,grad_norm"
    stats = [header]
    for k in range(len(val_losses)):
        stats += ["%d,%d,0,1,0,1,0,1,0,%f,%f" % (200 * k, b, 1.0 + b + k, 0.5 / (b + 1)) for b in range(layers)]
    write(stem + ".stats.csv", "\n".join(stats) + "\n")
    write(stem + ".rc", "%d\n" % rc)


for seed in (42, 43):
    run("none", "1e-2", seed, [4.0, 3.0, 2.5])
run("none", "1e-2", 44, [4.0, 3.0, 9.0, 2.6])      # rose above its start and came back: diverged
run("pre", "1e-2", 42, [4.0, 2.4, 2.0])           # with seed 43, reaches none's final 2.5 at step 200
run("pre", "1e-2", 43, [4.0, 2.5, 2.2])
run("post", "1e-2", 42, [4.0, unigram, unigram])  # stuck
run("post", "1e-2", 43, [4.0, 3.5, 2.9])          # never reaches 2.5
run("post", "1e-2", 44, [4.0, 3.0], rc=3)         # stopped on a NaN
check(layernorm_report.main(["--runs", runs, "--corpus", "corpus.txt", "--data", corpus]) == 0,
      "layernorm_report.py failed")
report = open(os.path.join(runs, "report.md"), encoding="utf-8").read()
lines = report.splitlines()


def row_of(prefix):
    found = [line for line in lines if line.startswith(prefix)]
    return [c.strip() for c in found[0].strip().strip("|").split("|")] if found else None


check("validation loss %.4f" % unigram in report, "study: the unigram baseline")
final = row_of("| none | 2.")
check(final is not None and final[1] == "2.5000 ± 0.0000 (1 of 3 diverged)", "study: none's final loss %s" % final)
post = row_of("| post |")
check(post is not None and post[1].endswith("(1 of 3 diverged, 1 of 3 stuck)"),
      "study: post's divergence and stuck counts %s" % post)
check(post is not None and post[1].startswith("%.4f ± " % ((unigram + 2.9) / 2)), "study: post's mean %s" % post)
pre = row_of("| 1e-2 | pre |")
check(pre is not None and pre[-1] == "200", "study: pre reaches none's final loss at step 200, got %s" % pre)
post_reach = row_of("| 1e-2 | post |")
check(post_reach is not None and post_reach[-1] == "never", "study: post never reaches it, got %s" % post_reach)
# lr 1e-2, last evaluation (k = 2): block 0's std 1 + 0 + 2 = 3, the last block's 5, gradient norms
# 0.5 and 0.5 / 3 (ratio 3); at initialisation block 0's std is 1.
stats = row_of("| pre | 3.")
check(stats is not None and stats[2] == "5.0000 ± 0.0000" and stats[3] == "3.0000 ± 0.0000"
      and stats[4] == "1.0000 ± 0.0000", "study: pre's block statistics %s" % stats)
for name in ("curves_L3.svg", "activation_std_L3.svg", "grad_norm_L3.svg"):
    check(os.path.getsize(os.path.join(runs, name)) > 0, "study: no %s" % name)

for failure in failures:
    print("FAIL:", failure)
if failures:
    sys.exit(1)
print("ok: the ladder and LayerNorm report scripts compute the made-up runs' numbers")
