#!/usr/bin/env bash
# Side-by-side benchmark: babygpt (benchmarks/bench_train) against the PyTorch reference
# (tools/train_reference.py) on the same corpus, preset, step count and thread count. The two run in
# alternation, REPEATS times each, so that a noisy machine slows both alike; the script prints the
# medians and the babygpt/PyTorch ratios.
#
#   benchmarks/compare_pytorch.sh --data data/downloads/tinyshakespeare.txt --preset v9 --threads 1
#
# Options: --data FILE (required; a bare corpus name such as tinyshakespeare means
#          $BABYGPT_DATA_DIR/<name>.txt, by default data/downloads/, where data/download.sh puts it), --preset v9|v11 (v9), --threads N (1), --repeats R (3),
#          --steps S (v9: 300, v11: 3), --generate N (500; 0 skips generation), --build DIR (build),
#          --protocol throughput|full (throughput). "full" runs the tutorial's whole protocol instead, as
#          users run it: the trainer (build/babygpt train) against tools/train_reference.py, each with its
#          preset's steps and every evaluation, no sampling; it times each whole process and prints the
#          medians of the wall times and their ratio. --baseline TRAINER adds another babygpt trainer
#          binary (say, one built from an earlier commit) to the same alternation, for a before/after
#          comparison in the same run. --dtype fp32|bf16 (fp32): babygpt's --dtype (bf16: the linear
#          layers' products in bf16, include/babygpt/bf16_products.hpp); PyTorch always trains in float32.
# PyTorch gets its best GEMM: Debian's torch calls whatever libblas.so.3 is installed, so install OpenBLAS
# (apt-get install libopenblas0-pthread; the reference BLAS is ~50x slower). babygpt, built with
# BABYGPT_BLAS (the default), hands its products to the same OpenBLAS. OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE are unset for both, so that OpenBLAS picks this CPU's own kernels (a forced
# OPENBLAS_CORETYPE=Haswell runs AVX2 kernels on an AVX-512 machine). OPENBLAS_NUM_THREADS holds PyTorch
# to --threads, since torch.set_num_threads does not reach OpenBLAS's own thread pool.
set -euo pipefail

data="" preset=v9 threads=1 repeats=3 steps="" generate=500 build=build protocol=throughput baseline="" dtype=fp32
while [ $# -gt 0 ]; do
    case "$1" in
        --data) data=$2 ;;
        --preset) preset=$2 ;;
        --threads) threads=$2 ;;
        --repeats) repeats=$2 ;;
        --steps) steps=$2 ;;
        --generate) generate=$2 ;;
        --build) build=$2 ;;
        --protocol) protocol=$2 ;;
        --baseline) baseline=$2 ;;
        --dtype) dtype=$2 ;;
        *) echo "compare_pytorch.sh: unknown option $1 (see the header of this script)" >&2; exit 2 ;;
    esac
    shift 2
done
[ -n "$data" ] || { echo "compare_pytorch.sh: --data FILE is required" >&2; exit 2; }
case "$dtype" in fp32|bf16) ;; *) echo "compare_pytorch.sh: --dtype must be fp32 or bf16, got $dtype" >&2; exit 2 ;; esac
dtype_option=()  # only for bf16: a --baseline trainer from before --dtype existed runs as it always did
[ "$dtype" = fp32 ] || dtype_option=(--dtype "$dtype")
if [ ! -f "$data" ] && [ "${data#*/}" = "$data" ]; then  # a bare corpus name
    data_dir=${BABYGPT_DATA_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/data/downloads}
    data="$data_dir/${data%.txt}.txt"
fi
[ -f "$data" ] || { echo "compare_pytorch.sh: $data: no such file (data/download.sh fetches the corpora into data/downloads/; BABYGPT_DATA_DIR points elsewhere)" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench="$root/$build/benchmarks/bench_train"
[ -x "$bench" ] || { echo "compare_pytorch.sh: $bench is missing; build first: cmake --build $build --target bench_train" >&2; exit 2; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "compare_pytorch.sh: /usr/bin/python3 lacks torch (apt-get install python3-torch)" >&2; exit 2; }
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
    *openblas*) ;;
    *) echo "compare_pytorch.sh: warning: libblas.so.3 is $blas, not OpenBLAS; PyTorch will be slow (apt-get install libopenblas0-pthread)" >&2 ;;
esac
if [ -z "$steps" ]; then
    if [ "$preset" = v11 ]; then steps=3; else steps=300; fi
fi
if [ "$preset" = v11 ]; then warmup=1; else warmup=20; fi

field() {  # field NAME < RESULT line
    sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p"
}
median() {  # median of the numbers on stdin
    sort -g | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}

# The tutorial's protocol, whole processes: training with its evaluations, start to exit.
if [ "$protocol" = full ]; then
    trainer="$root/$build/babygpt"
    [ -x "$trainer" ] || { echo "compare_pytorch.sh: $trainer is missing; build first: cmake --build $build --target babygpt_cli" >&2; exit 2; }
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    seconds_of() {  # seconds_of COMMAND...: runs it (output to $work/log) and prints its wall time
        local start end
        start=$(date +%s.%N)
        "$@" >"$work/log" 2>&1 || { echo "compare_pytorch.sh: '$*' failed:" >&2; cat "$work/log" >&2; exit 1; }
        end=$(date +%s.%N)
        awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }'
    }
    [ -z "$baseline" ] || [ -x "$baseline" ] || { echo "compare_pytorch.sh: --baseline $baseline is not an executable trainer" >&2; exit 2; }
    run_trainer() {  # run_trainer BINARY NAME: one whole run of the preset's protocol, printing its wall time
        seconds_of env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$1" train --data "$data" --preset "$preset" \
            --threads "$threads" "${dtype_option[@]}" --sample-tokens 0 --out "$work/$2/model.safetensors"
    }
    declare -a b_sec t_sec base_sec
    for r in $(seq 1 "$repeats"); do
        if [ -n "$baseline" ]; then
            base_sec+=("$(run_trainer "$baseline" "baseline$r")")
            echo "run $r baseline: ${base_sec[-1]} s ($(grep '^step ' "$work/log" | tail -n 1))"
        fi
        b_sec+=("$(run_trainer "$trainer" "run$r")")
        echo "run $r babygpt: ${b_sec[-1]} s ($(grep '^step ' "$work/log" | tail -n 1))"
        t_sec+=("$(seconds_of env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$threads" \
            OMP_NUM_THREADS="$threads" /usr/bin/python3 "$root/tools/train_reference.py" --data "$data" --preset "$preset" \
            --threads "$threads")")
        echo "run $r pytorch: ${t_sec[-1]} s ($(grep '^step ' "$work/log" | tail -n 1))"
    done
    bs=$(printf '%s\n' "${b_sec[@]}" | median) ts=$(printf '%s\n' "${t_sec[@]}" | median)
    echo
    echo "preset $preset, $(basename "$data"), $threads thread(s), babygpt $dtype, the full protocol (every evaluation, no sampling), whole process, medians of $repeats alternating runs"
    printf '%-28s %14s %14s %10s\n' "" babygpt pytorch ratio
    printf '%-28s %14.1f %14.1f %9.2fx\n' "wall time (s)" "$bs" "$ts" "$(awk "BEGIN{print $ts/$bs}")"
    if [ -n "$baseline" ]; then
        base=$(printf '%s\n' "${base_sec[@]}" | median)
        printf '%-28s %14.1f %14.1f %9.2fx   (%s; babygpt is %.2fx its speed)\n' "baseline wall time (s)" "$base" "$ts" \
            "$(awk "BEGIN{print $ts/$base}")" "$baseline" "$(awk "BEGIN{print $base/$bs}")"
    fi
    exit 0
fi
[ "$protocol" = throughput ] || { echo "compare_pytorch.sh: --protocol must be throughput or full, got $protocol" >&2; exit 2; }

declare -a b_tps b_gen b_rss b_mfu t_tps t_gen t_rss
for r in $(seq 1 "$repeats"); do
    line=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$bench" --data "$data" --preset "$preset" --threads "$threads" --steps "$steps" --warmup "$warmup" \
        --generate "$generate" --dtype "$dtype" | grep '^RESULT')
    b_tps+=("$(field tokens_per_sec <<<"$line")"); b_gen+=("$(field generate_tokens_per_sec <<<"$line")")
    b_rss+=("$(field peak_rss_mb <<<"$line")"); b_mfu+=("$(field mfu <<<"$line")")
    echo "run $r babygpt: $line"
    line=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads" /usr/bin/python3 "$root/tools/train_reference.py" \
        --data "$data" --preset "$preset" --threads "$threads" --max-iters $((steps + warmup)) --warmup "$warmup" \
        --no-eval --generate "$generate" | grep '^RESULT')
    t_tps+=("$(field tokens_per_sec <<<"$line")"); t_gen+=("$(field generate_tokens_per_sec <<<"$line")")
    t_rss+=("$(field peak_rss_mb <<<"$line")")
    echo "run $r pytorch: $line"
done

m() { printf '%s\n' "$@" | median; }
bt=$(m "${b_tps[@]}") tt=$(m "${t_tps[@]}") br=$(m "${b_rss[@]}") tr=$(m "${t_rss[@]}") bm=$(m "${b_mfu[@]}")
echo
echo "preset $preset, $(basename "$data"), $threads thread(s), babygpt $dtype, $steps timed steps, medians of $repeats alternating runs"
printf '%-28s %14s %14s %10s\n' "" babygpt pytorch ratio
printf '%-28s %14.0f %14.0f %9.2fx\n' "training tokens/s" "$bt" "$tt" "$(awk "BEGIN{print $bt/$tt}")"
if [ "$generate" -gt 0 ]; then
    bg=$(m "${b_gen[@]}") tg=$(m "${t_gen[@]}")
    printf '%-28s %14.1f %14.1f %9.2fx\n' "generation tokens/s ($generate)" "$bg" "$tg" "$(awk "BEGIN{print $bg/$tg}")"
fi
printf '%-28s %14.0f %14.0f %9.2fx\n' "peak RSS MB (training)" "$br" "$tr" "$(awk "BEGIN{print $br/$tr}")"
printf '%-28s %14.0f%%\n' "babygpt model FLOPs util." "$(awk "BEGIN{print 100*$bm}")"
