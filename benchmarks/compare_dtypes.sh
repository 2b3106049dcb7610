#!/usr/bin/env bash
# Does --dtype bf16 train as well as float32? Trains the same preset on one corpus with each seed in
# both dtypes (babygpt train, the preset's full run with its evaluations, one thread per run, JOBS runs
# at a time) and prints each run's final train and val loss, the bf16 - fp32 differences and the
# largest of them. The losses do not depend on timing, so runs may share the machine.
#
#   benchmarks/compare_dtypes.sh --data data/downloads/tinyshakespeare.txt
#
# Options: --data FILE (required; a bare corpus name such as songci means $BABYGPT_DATA_DIR/<name>.txt,
#          by default data/downloads/), --preset v9|v11 (v9), --seeds "S1 S2 ..." ("42 1 2": 42 is the trainer's default),
#          --max-iters N (the preset's), --jobs J (2), --bin PATH (build/babygpt), --work DIR
#          (build-dtypes: one directory per run, replaced).
set -euo pipefail

data="" preset=v9 seeds="42 1 2" max_iters="" jobs=2 bin="" work=build-dtypes
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { echo "compare_dtypes.sh: $1 needs a value (see the header of this script)" >&2; exit 2; }
    case "$1" in
        --data) data=$2 ;;
        --preset) preset=$2 ;;
        --seeds) seeds=$2 ;;
        --max-iters) max_iters=$2 ;;
        --jobs) jobs=$2 ;;
        --bin) bin=$2 ;;
        --work) work=$2 ;;
        *) echo "compare_dtypes.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
    esac
    shift 2
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -n "$data" ] || { echo "compare_dtypes.sh: --data FILE is required" >&2; exit 2; }
if [ ! -f "$data" ] && [ "${data#*/}" = "$data" ]; then  # a bare corpus name
    data="${BABYGPT_DATA_DIR:-$root/data/downloads}/${data%.txt}.txt"
fi
[ -f "$data" ] || { echo "compare_dtypes.sh: $data: no such file (data/download.sh fetches the corpora)" >&2; exit 2; }
bin=${bin:-$root/build/babygpt}
[ -x "$bin" ] || { echo "compare_dtypes.sh: $bin: not built (cmake --build build --target babygpt_cli)" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "compare_dtypes.sh: --jobs $jobs: expected a positive integer" >&2; exit 2; }
case "$work" in /*) ;; *) work="$root/$work" ;; esac
rm -rf "$work"
mkdir -p "$work"

# One run: its stdout in <work>/<dtype>-<seed>/out.txt.
train() {
    local dtype=$1 seed=$2 dir="$work/$1-$2"
    local extra=()
    [ -z "$max_iters" ] || extra=(--max-iters "$max_iters")
    mkdir -p "$dir"
    "$bin" train --data "$data" --preset "$preset" --seed "$seed" --threads 1 --dtype "$dtype" --sample-tokens 0 \
        "${extra[@]}" --out "$dir/model.safetensors" >"$dir/out.txt" 2>"$dir/err.txt" ||
        { echo "compare_dtypes.sh: the $dtype run with seed $seed failed:" >&2; cat "$dir/err.txt" >&2; return 1; }
}

pids=()
for seed in $seeds; do
    for dtype in fp32 bf16; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
        train "$dtype" "$seed" &
        pids+=($!)
    done
done
for pid in "${pids[@]}"; do wait "$pid"; done

# The last "step N: train loss X, val loss Y, ..." line of a run: "X Y".
final_losses() { grep '^step ' "$work/$1-$2/out.txt" | tail -n 1 | sed 's/^step [0-9]*: train loss \([0-9.]*\), val loss \([0-9.]*\),.*/\1 \2/'; }

echo "$(basename "$data"), preset $preset$( [ -z "$max_iters" ] || echo ", $max_iters steps"), $("$bin" --version 2>/dev/null || true)"
echo
echo "| seed | fp32 train | fp32 val | bf16 train | bf16 val | val bf16 - fp32 |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
largest=0
for seed in $seeds; do
    read -r ft fv <<<"$(final_losses fp32 "$seed")"
    read -r bt bv <<<"$(final_losses bf16 "$seed")"
    diff=$(awk -v a="$bv" -v b="$fv" 'BEGIN { printf "%+.4f", a - b }')
    largest=$(awk -v d="$diff" -v m="$largest" 'BEGIN { d = d < 0 ? -d : d; printf "%.4f", (d > m ? d : m) }')
    echo "| $seed | $ft | $fv | $bt | $bv | $diff |"
done
echo
echo "largest |val bf16 - fp32|: $largest"
