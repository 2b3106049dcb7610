#!/usr/bin/env bash
# Data-parallel training on one machine: the trainer's training tokens/s for one process with 2 threads,
# 2 processes (mpirun) with 1 thread each, with and without overlapping the gradient all-reduce with
# backward, through shared memory (Open MPI's default on one machine) and through TCP (as between
# machines, here over the loopback interface), and one process with 1 thread; and the time per step
# the 2-process runs spend summing gradients. The configurations run in alternation, REPEATS times
# each; the table shows medians.
#
#   benchmarks/data_parallel.sh --data tinyshakespeare.txt [--preset v11] [--steps 6] [--repeats 3]
#
# Options: --data FILE (required), --preset v9|v11 (v11), --steps S (6: the speed is that of steps 0 to
#          S-2, measured by the trainer between its first and last evaluations), --repeats R (3),
#          --build DIR (build: where build/babygpt is). Needs mpirun (apt-get install openmpi-bin).
set -euo pipefail

data="" preset=v11 steps=6 repeats=3 build=build
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { echo "data_parallel.sh: $1 needs a value (see the header of this script)" >&2; exit 2; }
    case "$1" in
        --data) data=$2 ;;
        --preset) preset=$2 ;;
        --steps) steps=$2 ;;
        --repeats) repeats=$2 ;;
        --build) build=$2 ;;
        *) echo "data_parallel.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
    esac
    shift 2
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "$build" in /*) ;; *) build="$root/$build" ;; esac
trainer="$build/babygpt"
[ -n "$data" ] || { echo "data_parallel.sh: --data FILE is required" >&2; exit 2; }
[ -f "$data" ] || { echo "data_parallel.sh: $data: no such file" >&2; exit 2; }
[ -x "$trainer" ] || { echo "data_parallel.sh: $trainer not found; build it first (cmake --build build --target babygpt_cli)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "data_parallel.sh: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # mpirun refuses root otherwise
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name|launcher|trainer options
configs=(
    "1 process x 2 threads||--threads 2"
    "2 processes x 1 thread, one all-reduce after backward|mpirun -np 2 --bind-to core|--threads 1 --bucket-mb 0"
    "2 processes x 1 thread, overlap (4 MB buckets)|mpirun -np 2 --bind-to core|--threads 1 --bucket-mb 4"
    "2 processes x 1 thread over TCP, one all-reduce after backward|mpirun -np 2 --bind-to core --mca btl self,tcp|--threads 1 --bucket-mb 0"
    "2 processes x 1 thread over TCP, overlap (4 MB buckets)|mpirun -np 2 --bind-to core --mca btl self,tcp|--threads 1 --bucket-mb 4"
    "1 process x 1 thread||--threads 1"
)
base_config=$((${#configs[@]} - 1))
for ((r = 1; r <= repeats; r++)); do
    for i in "${!configs[@]}"; do
        IFS='|' read -r name launcher options <<<"${configs[$i]}"
        log="$work/$i.$r.log"
        # shellcheck disable=SC2086  # the launcher and options are word lists
        $launcher "$trainer" train --data "$data" --preset "$preset" --max-iters "$steps" --eval-interval 100000 \
            --eval-iters 1 --sample-tokens 0 --out "$work/run$i.$r/model.safetensors" $options >"$log" 2>&1 ||
            { echo "data_parallel.sh: '$name' failed:" >&2; cat "$log" >&2; exit 1; }
        speed=$(grep -o 'speed: [0-9.]*' "$log" | tail -n 1 | cut -d' ' -f2)
        sums=$(grep -o 'processes: [0-9.]* ms per step' "$log" | cut -d' ' -f2 || true)
        echo "$i $speed ${sums:--}" >>"$work/results"
        echo "run $r, $name: $speed tokens/s${sums:+, summing gradients $sums ms per step}" >&2
    done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "$preset on $(basename "$data"), steps 0-$((steps - 2)), medians of $repeats alternating runs:"
echo
echo "| configuration | training tokens/s | vs 1 x 1 | summing gradients, ms per step |"
echo "| --- | ---: | ---: | ---: |"
base=$(awk -v i="$base_config" '$1 == i { print $2 }' "$work/results" | median)
for i in "${!configs[@]}"; do
    IFS='|' read -r name _ _ <<<"${configs[$i]}"
    speed=$(awk -v i="$i" '$1 == i { print $2 }' "$work/results" | median)
    sums=$(awk -v i="$i" '$1 == i && $3 != "-" { print $3 }' "$work/results" | median)
    printf '| %s | %.0f | %.2fx | %s |\n' "$name" "$speed" "$(echo "$speed $base" | awk '{ print $1 / $2 }')" "$sums"
done
