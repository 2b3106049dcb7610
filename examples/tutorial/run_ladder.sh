#!/usr/bin/env bash
# The tutorial ladder, measured: trains every step program on one corpus and reports one table (step,
# what it adds, parameters, final train and val loss, tokens/s, wall time) and one SVG with every
# step's validation curve (tools/ladder_report.py).
#
#   examples/tutorial/run_ladder.sh --data songci.txt --build build --out docs/ladder/songci
#
# Options: --data FILE (required), --build DIR (build: where the step programs were built, in
#          DIR/tutorial/), --out PREFIX (ladder: PREFIX.md, PREFIX.svg and PREFIX/ with every log),
#          --seeds "42 43 44" (steps 1-10), --threads N (1), --jobs J (2: runs at once),
#          --v11-iters N (200: step 11's iterations; its evaluations every N/4 over 20 batches),
#          --steps "v1_bigram ..." (all eleven).
# A run whose log is complete (it ends with its wall time) is kept, not trained again: the script resumes.
set -euo pipefail

data="" build=build out=ladder seeds="42 43 44" threads=1 jobs=2 v11_iters=200
steps="v1_bigram v2_position v3_self_attention v4_multihead_attention v5_feedforward v6_block
       v7_residual_connection v8_projection v9_layer_norm v10_dropout v11_hyper_params"
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { echo "run_ladder.sh: $1 needs a value (see the header of this script)" >&2; exit 2; }
    case "$1" in
        --data) data=$2 ;;
        --build) build=$2 ;;
        --out) out=$2 ;;
        --seeds) seeds=$2 ;;
        --threads) threads=$2 ;;
        --jobs) jobs=$2 ;;
        --v11-iters) v11_iters=$2 ;;
        --steps) steps=$2 ;;
        *) echo "run_ladder.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
    esac
    shift 2
done
[ -f "$data" ] || { echo "run_ladder.sh: --data $data: no such file" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
logs="$out"
mkdir -p "$logs"

# One line per run: "<step> <seed> <extra options>", step 11 once with fewer iterations.
runs=()
for step in $steps; do
    program="$build/tutorial/$step"
    [ -x "$program" ] || { echo "run_ladder.sh: $program is missing; build it: cmake --build $build --target tutorial_$step" >&2; exit 2; }
    if [ "$step" = v11_hyper_params ]; then
        runs+=("$step 42 --max-iters $v11_iters --eval-interval $((v11_iters / 4)) --eval-iters 20")
    else
        for seed in $seeds; do runs+=("$step $seed"); done
    fi
done

run_one() {
    local step=$1 seed=$2
    shift 2
    local log="$logs/$step.seed$seed.log" start end
    if grep -q '^wall_seconds' "$log" 2>/dev/null; then  # finished in an earlier run of this script
        echo "kept: $step seed $seed"
        return 0
    fi
    start=$(date +%s.%N)
    "$build/tutorial/$step" --data "$data" --seed "$seed" --threads "$threads" --out "$logs/$step.seed$seed.safetensors" \
        "$@" >"$log" 2>&1 || { echo "run_ladder.sh: $step (seed $seed) failed; see $log" >&2; return 1; }
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "wall_seconds %.1f\n", b - a }' >>"$log"
    echo "done: $step seed $seed"
}
export -f run_one
export build data threads logs

printf '%s\n' "${runs[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'
/usr/bin/env python3 "$root/tools/ladder_report.py" --logs "$logs" --corpus "$(basename "$data")" \
    --table "$out.md" --svg "$out.svg"
