#!/usr/bin/env bash
# Before/after benchmark of two versions of babygpt in one run: builds benchmarks/bench_train of each
# git revision (Release, the project's default flags), then runs the two in alternation, REPEATS times
# each, on the same corpus, preset, step count and thread count, and prints the medians and the
# after/before ratios. Alternating makes a noisy, shared machine slow both alike.
#
#   benchmarks/compare_versions.sh --before v1.2 --data data/downloads/tinyshakespeare.txt --preset v9
#
# Options: --before REV (required), --after REV (HEAD), --data FILE (required; a bare corpus name
#          such as songci means $BABYGPT_DATA_DIR/<name>.txt, by default data/downloads/),
#          --preset v9|v11 (v9), --threads N (1), --repeats R (3), --steps S (v9: 300, v11: 3),
#          --generate N (0: no generation), --work DIR (build-compare: worktrees and builds, reused).
set -euo pipefail

before="" after=HEAD data="" preset=v9 threads=1 repeats=3 steps="" generate=0 work=build-compare
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { echo "compare_versions.sh: $1 needs a value (see the header of this script)" >&2; exit 2; }
    case "$1" in
        --before) before=$2 ;;
        --after) after=$2 ;;
        --data) data=$2 ;;
        --preset) preset=$2 ;;
        --threads) threads=$2 ;;
        --repeats) repeats=$2 ;;
        --steps) steps=$2 ;;
        --generate) generate=$2 ;;
        --work) work=$2 ;;
        *) echo "compare_versions.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
    esac
    shift 2
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -n "$before" ] || { echo "compare_versions.sh: --before REV is required" >&2; exit 2; }
[ -n "$data" ] || { echo "compare_versions.sh: --data FILE is required" >&2; exit 2; }
if [ ! -f "$data" ] && [ "${data#*/}" = "$data" ]; then  # a bare corpus name
    data="${BABYGPT_DATA_DIR:-$root/data/downloads}/${data%.txt}.txt"
fi
[ -f "$data" ] || { echo "compare_versions.sh: $data: no such file (data/download.sh fetches the corpora)" >&2; exit 2; }
data=$(cd "$(dirname "$data")" && pwd)/$(basename "$data")
if [ -z "$steps" ]; then
    if [ "$preset" = v11 ]; then steps=3; else steps=300; fi
fi
if [ "$preset" = v11 ]; then warmup=1; else warmup=20; fi
case "$work" in /*) ;; *) work="$root/$work" ;; esac

# bench_train of one revision: a worktree at that commit and a Release build of only bench_train.
build_revision() {
    local rev=$1 commit dir
    commit=$(git -C "$root" rev-parse --verify --quiet "$rev^{commit}") ||
        { echo "compare_versions.sh: $rev is not a commit of this repository" >&2; exit 2; }
    dir="$work/$commit"
    if [ ! -d "$dir/src" ]; then
        mkdir -p "$dir"
        git -C "$root" worktree add --detach --force "$dir/src" "$commit" >/dev/null
    fi
    cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release -DBABYGPT_BUILD_TESTS=OFF \
        -DBABYGPT_BUILD_EXAMPLES=OFF >/dev/null
    cmake --build "$dir/build" -j2 --target bench_train >/dev/null
    echo "$dir/build/benchmarks/bench_train"
}
echo "building $before and $after (reused if built before) ..." >&2
bench_before=$(build_revision "$before")
bench_after=$(build_revision "$after")

field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p"; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
run() {  # run BENCH -> its RESULT line
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$1" --data "$data" --preset "$preset" --threads "$threads" \
        --steps "$steps" --warmup "$warmup" --generate "$generate" | grep '^RESULT'
}

declare -a tps_before tps_after gen_before gen_after
for r in $(seq 1 "$repeats"); do
    line=$(run "$bench_before"); echo "run $r before: $line"
    tps_before+=("$(field tokens_per_sec <<<"$line")"); gen_before+=("$(field generate_tokens_per_sec <<<"$line")")
    line=$(run "$bench_after"); echo "run $r after:  $line"
    tps_after+=("$(field tokens_per_sec <<<"$line")"); gen_after+=("$(field generate_tokens_per_sec <<<"$line")")
done

m() { printf '%s\n' "$@" | median; }
tb=$(m "${tps_before[@]}") ta=$(m "${tps_after[@]}")
echo
echo "preset $preset, $(basename "$data"), $threads thread(s), $steps timed steps, medians of $repeats alternating runs"
printf '%-28s %14s %14s %10s\n' "" "before ($before)" "after ($after)" "after/before"
printf '%-28s %14.0f %14.0f %9.3fx\n' "training tokens/s" "$tb" "$ta" "$(awk "BEGIN{print $ta/$tb}")"
if [ "$generate" -gt 0 ]; then
    gb=$(m "${gen_before[@]}") ga=$(m "${gen_after[@]}")
    printf '%-28s %14.1f %14.1f %9.3fx\n' "generation tokens/s ($generate)" "$gb" "$ga" "$(awk "BEGIN{print $ga/$gb}")"
fi
