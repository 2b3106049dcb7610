#!/usr/bin/env bash
# End-to-end tests of data-parallel training: the trainer started by mpirun as 2 processes on this machine.
#
#   bash tests/mpi/mpi_tests.sh <case> <path-to-babygpt> <scratch-dir> <path-to-mpirun>
#
# Each case is one function below (test_<case>), working in <scratch-dir>, on the project's own corpus
# (data/default.txt) or one given in BABYGPT_MPI_CORPUS (e.g. tinyshakespeare, for a longer check).
# The runs compared use the v9 preset; compare_runs.py reads their metrics and checkpoints.
set -u
export LC_ALL=C
[ $# -eq 4 ] || { echo "usage: bash $0 <case> <path-to-babygpt> <scratch-dir> <path-to-mpirun>" >&2; exit 2; }
CASE=$1 BIN=$2 SCRATCH=$3 MPIRUN=$4
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CORPUS=${BABYGPT_MPI_CORPUS:-$HERE/../../data/default.txt}
# mpirun refuses to start as root without these (CI runs as root); --oversubscribe: 2 ranks even where
# fewer cores are free; OMPI_MCA_rmaps_base_oversubscribe is the same as a variable.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPI=("$MPIRUN" -np 2 --oversubscribe)

fail() { echo "FAIL [$CASE]: $*" >&2; exit 1; }
note() { echo "ok: $*"; }
show() { local f; for f in "$@"; do echo "----- $f -----" >&2; cat "$f" >&2 2>/dev/null || echo "(missing)" >&2; done; }

# train_ok <name> <launcher...> -- <trainer options...>: a v9 run on the corpus, output in <name>.log.
train_ok() {
    local name=$1 launcher=()
    shift
    while [ "$1" != "--" ]; do launcher+=("$1"); shift; done
    shift
    "${launcher[@]}" "$BIN" train --data "$CORPUS" --threads 1 --sample-tokens 0 --eval-interval 50 \
        --out "$name/model.safetensors" "$@" >"$name.log" 2>&1 || { show "$name.log"; fail "$name: training failed"; }
}

# compare <a> <b> [tolerances...]: losses within 1e-3 at every evaluation, parameters within 1e-4.
compare() {
    local a=$1 b=$2
    shift 2
    /usr/bin/python3 "$HERE/compare_runs.py" "$a/model.safetensors" "$b/model.safetensors" "$@" >"compare.log" 2>&1 ||
        { show compare.log; fail "$a and $b differ"; }
    note "$a vs $b: $(tr '\n' ' ' <compare.log)"
}

# The pid of rank <r> of the mpirun whose pid is <mpirun-pid> (its children, by their rank variable).
rank_pid() {
    local parent=$1 rank=$2 pid
    for pid in $(pgrep -P "$parent"); do
        if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$rank"; then
            echo "$pid"
            return
        fi
    done
}

# Starts a long v9 run under mpirun in the background (PID in MPIRUN_PID) and waits for its first
# evaluation, so that both ranks are training.
start_long_run() {
    local name=$1
    "${MPI[@]}" "$BIN" train --data "$CORPUS" --threads 1 --sample-tokens 0 --max-iters 1000000 --eval-interval 200 \
        --out "$name/model.safetensors" >"$name.log" 2>&1 &
    MPIRUN_PID=$!
    for _ in $(seq 600); do
        grep -q '^step 0:' "$name.log" 2>/dev/null && return
        sleep 0.1
    done
    show "$name.log"
    fail "$name: no first evaluation after 60 s"
}

# Waits up to <seconds> for the background mpirun; sets RC to its exit code (or fails).
wait_for_exit() {
    local seconds=$1 start=$SECONDS
    while kill -0 "$MPIRUN_PID" 2>/dev/null; do
        [ $((SECONDS - start)) -lt "$seconds" ] || { kill -9 "$MPIRUN_PID"; fail "mpirun still running after $seconds s"; }
        sleep 0.2
    done
    wait "$MPIRUN_PID"
    RC=$?
    ELAPSED=$((SECONDS - start))
}

# ---- cases ---------------------------------------------------------------------------------------

# 2 processes sharing each batch train as one process with the whole batch does, up to float rounding.
# The gradients they sum equal one process's to 1e-6 (mpi_gradient_sum_2/3); but training at the v9
# learning rate amplifies rounding: a parameter whose gradient is ~1e-8 (attention at initialisation)
# moves by lr * g / (|g| + 1e-8) in AdamW, so a last-bit change moves it by ~1e-5, and ReLUs that flip
# carry that on. So the parameters after 200 steps differ (up to ~0.3; 2 and 4 processes differ from
# each other as much), and the losses by a few 1e-3; this compares the losses with a bound of 0.02 (a
# tenth of what 200 more steps gain) and prints the differences measured.
test_matches_single() {
    train_ok single -- --max-iters 200
    train_ok two "${MPI[@]}" -- --max-iters 200
    grep -q '2 processes x 1 thread' two.log || { show two.log; fail "the banner does not name the 2 processes"; }
    [ "$(grep -c '^step ' two.log)" -eq 5 ] || { show two.log; fail "expected 5 evaluation lines from rank 0 only"; }
    compare single two --loss-tolerance 0.02 --parameter-tolerance inf
    # One process under mpirun is the plain trainer, to the last bit.
    train_ok one "$MPIRUN" -np 1 -- --max-iters 200
    compare single one --loss-tolerance 0 --parameter-tolerance 0
    # Overlap changes when the sums run, not what they are (a sum of two terms has one order).
    train_ok two50_one_sum "${MPI[@]}" -- --max-iters 50 --bucket-mb 0
    train_ok two50_buckets "${MPI[@]}" -- --max-iters 50 --bucket-mb 0.01
    grep -q '1 all-reduce per step' two50_one_sum.log || { show two50_one_sum.log; fail "--bucket-mb 0 is not one all-reduce"; }
    grep -Eq '[0-9]+ all-reduces per step' two50_buckets.log || { show two50_buckets.log; fail "--bucket-mb 0.01 made one bucket"; }
    compare two50_one_sum two50_buckets --loss-tolerance 0 --parameter-tolerance 0
}

# A checkpoint written by one process continues under mpirun, and the reverse, over 25 + 25 steps: the
# losses are those of one process throughout (within 1e-3), and the parameters those of the run that
# was not interrupted, within 1e-4 (only the 25 steps after the resume differ in how the batch is
# summed; from initialisation, where rounding is amplified most, 25 steps already differ by ~5e-3). And
# a run resumed under mpirun with the same number of processes is the uninterrupted run, to the last bit.
test_resume_across() {
    train_ok whole -- --max-iters 50
    train_ok two_whole "${MPI[@]}" -- --max-iters 50
    train_ok one_then_two -- --max-iters 25
    train_ok one_then_two "${MPI[@]}" -- --max-iters 50 --resume one_then_two/model.safetensors
    grep -q 'resuming at step 25' one_then_two.log || { show one_then_two.log; fail "did not resume at step 25"; }
    compare whole one_then_two
    train_ok two_then_one "${MPI[@]}" -- --max-iters 25
    train_ok two_then_one -- --max-iters 50 --resume two_then_one/model.safetensors
    grep -q 'resuming at step 25' two_then_one.log || { show two_then_one.log; fail "did not resume at step 25"; }
    compare two_whole two_then_one
    compare whole two_then_one --parameter-tolerance inf
    train_ok two_then_two "${MPI[@]}" -- --max-iters 25
    train_ok two_then_two "${MPI[@]}" -- --max-iters 50 --resume two_then_two/model.safetensors
    compare two_whole two_then_two --loss-tolerance 0 --parameter-tolerance 0
}

# SIGTERM to one rank: every rank stops at the same step, rank 0 saves once, all exit with 143; the
# checkpoint resumes.
test_sigterm_one_rank() {
    start_long_run run
    local rank1
    rank1=$(rank_pid "$MPIRUN_PID" 1)
    [ -n "$rank1" ] || fail "rank 1 not found among mpirun's children"
    kill -TERM "$rank1"
    wait_for_exit 30
    [ "$RC" -eq 143 ] || { show run.log; fail "mpirun exited with $RC after SIGTERM to rank 1, expected 143"; }
    grep -q '^interrupted at step [0-9]*; saved .*(SIGTERM' run.log || { show run.log; fail "no 'interrupted ... saved' line"; }
    [ "$(grep -c '^interrupted' run.log)" -eq 1 ] || { show run.log; fail "expected one interruption line (rank 0's)"; }
    note "SIGTERM to rank 1: exit 143 after $ELAPSED s; $(grep '^interrupted' run.log)"
    "${MPI[@]}" "$BIN" train --resume run/model.safetensors --max-iters 400 --threads 1 --sample-tokens 0 >resume.log 2>&1 ||
        { show resume.log; fail "resuming the interrupted run failed"; }
    grep -q 'resuming at step' resume.log || { show resume.log; fail "no resume"; }
    note "resumed: $(grep '^saved' resume.log)"
}

# SIGKILL to one rank: the other does not wait for it forever; mpirun exits non-zero within 30 s.
test_sigkill_one_rank() {
    start_long_run run
    local rank0 rank1
    rank0=$(rank_pid "$MPIRUN_PID" 0)
    rank1=$(rank_pid "$MPIRUN_PID" 1)
    [ -n "$rank1" ] && [ -n "$rank0" ] || fail "ranks not found among mpirun's children"
    kill -KILL "$rank1"
    KILLED_AT=$SECONDS
    wait_for_exit 30
    [ "$RC" -ne 0 ] || { show run.log; fail "mpirun exited with 0 after SIGKILL of rank 1"; }
    while kill -0 "$rank0" 2>/dev/null; do  # mpirun may return while its kill of rank 0 lands
        [ $((SECONDS - KILLED_AT)) -lt 30 ] || fail "rank 0 still runs 30 s after rank 1 was killed"
        sleep 0.1
    done
    note "SIGKILL of rank 1: mpirun exited with $RC after $ELAPSED s, rank 0 gone after $((SECONDS - KILLED_AT)) s"
}

# Mistakes under mpirun get one clear line and a non-zero exit, not a hang.
test_errors() {
    "${MPI[@]}" "$BIN" train --data "$CORPUS" --batch-size 1 --max-iters 5 --out small/model.safetensors >small.log 2>&1
    local rc=$?
    [ "$rc" -ne 0 ] || fail "--batch-size 1 with 2 processes succeeded"
    grep -q 'error: --batch-size 1 is smaller than the 2 processes' small.log || { show small.log; fail "no batch-size error"; }
    note "--batch-size 1 with 2 processes: exit $rc, $(grep -m1 '^error' small.log)"
    train_ok model -- --max-iters 5
    "${MPI[@]}" "$BIN" info model/model.safetensors >info.log 2>&1
    rc=$?
    [ "$rc" -ne 0 ] && grep -q "only 'babygpt train' runs as several processes" info.log || { show info.log; fail "info under mpirun"; }
    note "info under mpirun: exit $rc, $(grep -m1 '^error' info.log)"
}

mkdir -p "$SCRATCH" && rm -rf "${SCRATCH:?}"/* && cd "$SCRATCH" || exit 2
declare -F "test_$CASE" >/dev/null || { echo "unknown case $CASE" >&2; exit 2; }
"test_$CASE"
echo "PASS [$CASE]"
