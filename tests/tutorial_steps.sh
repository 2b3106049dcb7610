#!/usr/bin/env bash
# Runs one step program of the tutorial ladder (examples/tutorial) briefly and checks what a learner
# sees: the tutorial's evaluation lines at the tutorial's steps, samples from its prompts, a checkpoint,
# and a one-line error (and no lost file) for a bad input.
#
#   bash tests/tutorial_steps.sh <program> <step name> <scratch-dir> [quick]
#
# quick (for step 11, whose iteration takes seconds): 2 iterations, each evaluated, and no second run.
set -u
export LC_ALL=C
[ $# -eq 3 ] || [ $# -eq 4 ] || { echo "usage: bash $0 <program> <step name> <scratch-dir> [quick]" >&2; exit 2; }
BIN=$1 STEP=$2 WORK=$3 QUICK=${4:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() { echo "FAIL [$STEP]: $*" >&2; exit 1; }
show() { for f in "$@"; do echo "----- $f -----" >&2; cat "$f" >&2 2>/dev/null; done; }
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 2

# A text of 6,000 characters holding the tutorial's prompts (春江, 往事), written here, not copied.
for i in $(seq 1 200); do
    printf '春江水暖第%d回，往事如烟%d。\n' "$i" $((i * 7 % 13))
    printf 'the %d river runs to the sea %d times.\n' "$i" $((i % 5))
done >text.txt

# 1. Training: evaluations after the update of iterations 0, 5, 10 (of 12), in the tutorial's format.
RUN=(--max-iters 12 --eval-interval 5 --eval-iters 2) expected="0 5 10 "
[ -z "$QUICK" ] || { RUN=(--max-iters 2 --eval-interval 1 --eval-iters 1) expected="0 1 "; }
"$BIN" --data text.txt "${RUN[@]}" --seed 3 --threads 1 --out run/model.safetensors --probe run/probe.safetensors \
    >train.out 2>train.err || { show train.out train.err; fail "training exited with $?"; }
steps=$(sed -n 's/^step \([0-9]*\): train loss [0-9.]*, val loss [0-9.]*, speed: [0-9.]* tokens\/sec$/\1/p' train.out | tr '\n' ' ')
[ "$steps" = "$expected" ] || { show train.out; fail "evaluation lines at steps '$steps', expected $expected"; }
grep -q '^春江' train.out && grep -q '^往事' train.out || { show train.out; fail "no samples from the prompts 春江 and 往事"; }
[ -s run/model.safetensors ] || { show train.out; fail "no checkpoint at run/model.safetensors"; }
echo "ok: trained, evaluated at steps $steps, sampled, saved run/model.safetensors"
# Its keys and shapes are exactly the step's state_dict in TUTORIAL.md.
python3 "$HERE/tutorial_state_dict.py" "$STEP" run/model.safetensors || fail "the checkpoint is not the step's state_dict"

# 2. The same seed, the same run: the losses repeat exactly.
if [ -z "$QUICK" ]; then
    "$BIN" --data text.txt "${RUN[@]}" --seed 3 --threads 1 --out run/again.safetensors >again.out 2>&1 ||
        fail "the second run failed"
    [ "$(sed 's/, speed.*//' train.out | grep '^step')" = "$(sed 's/, speed.*//' again.out | grep '^step')" ] ||
        { show train.out again.out; fail "the same seed gave different losses"; }
    echo "ok: the same seed gives the same losses"
fi

# 3. Bad inputs: one line on stderr, a non-zero exit, and nothing lost.
cp text.txt kept.txt
expect_error() {
    local phrase=$1
    shift
    "$BIN" "$@" >bad.out 2>bad.err
    local rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] || { show bad.out bad.err; fail "'$*' exited with $rc"; }
    [ "$(wc -l <bad.err)" -eq 1 ] && grep -qF -- "$phrase" bad.err || { show bad.err; fail "'$*': expected one line with '$phrase'"; }
    echo "ok: $(cat bad.err)"
}
expect_error "--out text.txt is the training text" --data text.txt --max-iters 2 --out text.txt
cmp -s text.txt kept.txt || fail "the training text was changed"
expect_error "no-such.txt" --data no-such.txt --max-iters 2
expect_error "exists and is not a checkpoint" --data text.txt --max-iters 2 --out kept.txt
expect_error "--max-iters must be positive" --data text.txt --max-iters 0
cmp -s text.txt kept.txt || fail "a file was changed"
echo "PASS [$STEP]"
