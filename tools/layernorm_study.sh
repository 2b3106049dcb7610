#!/usr/bin/env bash
# The LayerNorm study: trains the v9 model with its LayerNorms before each sublayer (pre, the
# reference), after each residual addition (post) and nowhere (none), at four learning rates and
# several seeds, with --log-stats, and again with a deeper model; then reports (tools/layernorm_report.py).
#
#   tools/layernorm_study.sh --data songci.txt --babygpt build/babygpt --out study/songci
#
# Options: --data FILE (required), --babygpt PROGRAM (build/babygpt), --out DIR (study),
#          --norms "none pre post", --learning-rates "1e-3 3e-3 1e-2 3e-2", --seeds "42 43 44",
#          --layers "3 12" (n_layer of each model), --max-iters N (5000), --eval-iters N (100),
#          --jobs J (2: runs at once, one thread each).
# A run that exists already (its metrics CSV is complete) is not trained again: the study resumes.
set -euo pipefail

data="" babygpt=build/babygpt out=study norms="none pre post" rates="1e-3 3e-3 1e-2 3e-2" seeds="42 43 44"
layers="3 12" max_iters=5000 eval_iters=100 jobs=2
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { echo "layernorm_study.sh: $1 needs a value (see the header of this script)" >&2; exit 2; }
    case "$1" in
        --data) data=$2 ;;
        --babygpt) babygpt=$2 ;;
        --out) out=$2 ;;
        --norms) norms=$2 ;;
        --learning-rates) rates=$2 ;;
        --seeds) seeds=$2 ;;
        --layers) layers=$2 ;;
        --max-iters) max_iters=$2 ;;
        --eval-iters) eval_iters=$2 ;;
        --jobs) jobs=$2 ;;
        *) echo "layernorm_study.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
    esac
    shift 2
done
[ -f "$data" ] || { echo "layernorm_study.sh: --data $data: no such file" >&2; exit 2; }
[ -x "$babygpt" ] || { echo "layernorm_study.sh: $babygpt is not the babygpt program; pass --babygpt" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$out"

runs=()
for n_layer in $layers; do
    for norm in $norms; do
        for lr in $rates; do
            for seed in $seeds; do runs+=("$n_layer $norm $lr $seed"); done
        done
    done
done

# One run: L<n_layer>_<norm>_lr<lr>_s<seed>.{safetensors,csv,stats.csv,log}; its exit code in .rc
# (3: the loss became NaN or infinite).
train_one() {
    local n_layer=$1 norm=$2 lr=$3 seed=$4
    local name="$out/L${n_layer}_${norm}_lr${lr}_s${seed}"
    if [ -f "$name.rc" ]; then return 0; fi
    local rc=0
    "$babygpt" train --data "$data" --preset v9 --n-layer "$n_layer" --norm "$norm" --learning-rate "$lr" \
        --seed "$seed" --max-iters "$max_iters" --eval-iters "$eval_iters" --threads 1 --sample-tokens 0 \
        --log-stats --overwrite --out "$name.safetensors" >"$name.log" 2>&1 || rc=$?
    echo "$rc" >"$name.rc"
    echo "done: n_layer $n_layer, norm $norm, lr $lr, seed $seed (exit $rc)"
}
export -f train_one
export babygpt data out max_iters eval_iters

printf '%s\n' "${runs[@]}" | xargs -P "$jobs" -I{} bash -c 'train_one {}'
/usr/bin/env python3 "$root/tools/layernorm_report.py" --runs "$out" --corpus "$(basename "$data")" --data "$data"
