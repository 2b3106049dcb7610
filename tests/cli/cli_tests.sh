#!/usr/bin/env bash
# End-to-end tests of the babygpt command-line trainer (examples/babygpt).
#
#   bash tests/cli/cli_tests.sh <case> <path-to-babygpt> <scratch-dir>
#
# Each case is one function below (test_<case>). It works in <scratch-dir>/work, which it empties first,
# writes its own small corpora there, and trains only tiny models for a few dozen steps, so that every
# case takes a few seconds. A case prints what it checked and exits 0, or prints the failed check (with
# the output of the command involved) and exits 1.
#
# Only bash and coreutils (plus grep, sed, awk, od) are needed; the byte-level checks run with LC_ALL=C
# and count UTF-8 characters themselves, so no UTF-8 locale has to be installed.

set -u
export LC_ALL=C

if [ $# -ne 3 ]; then
    echo "usage: bash $0 <case> <path-to-babygpt> <scratch-dir>" >&2
    exit 2
fi
CASE=$1
BIN_ARG=$2
SCRATCH=$3

# ---- helpers -----------------------------------------------------------------------------------------

BACKGROUND_PID=""
cleanup() {
    if [ -n "$BACKGROUND_PID" ]; then
        kill -9 "$BACKGROUND_PID" 2>/dev/null
        wait "$BACKGROUND_PID" 2>/dev/null
    fi
}
trap cleanup EXIT

fail() {
    echo "FAIL [$CASE]: $*" >&2
    exit 1
}

note() { echo "ok: $*"; }

# Shows a file in a failure message.
show() {
    local f
    for f in "$@"; do
        echo "----- $f -----" >&2
        if [ -f "$f" ]; then cat "$f" >&2; else echo "(missing)" >&2; fi
    done
}

# run <name> <args...>: runs the trainer with stdout in <name>.out, stderr in <name>.err, exit code in RC.
RC=0
run() {
    local name=$1
    shift
    "$BIN" "$@" >"$name.out" 2>"$name.err"
    RC=$?
}

# run_ok <name> <args...>: as run, and the command must succeed.
run_ok() {
    local name=$1
    run "$@"
    if [ "$RC" -ne 0 ]; then
        show "$name.out" "$name.err"
        fail "'babygpt ${*:2}' exited with $RC"
    fi
}

# Lines in a file (a last line without a newline counts too).
line_count() { awk 'END { print NR }' "$1"; }

# The "step N: train loss X, val loss Y, speed: Z tokens/sec" lines of a training's stdout.
STEP_LINE='^step [0-9][0-9]*: train loss [0-9][0-9]*\.[0-9][0-9][0-9][0-9], val loss [0-9][0-9]*\.[0-9][0-9][0-9][0-9], speed: [0-9][0-9]*\.[0-9][0-9] tokens/sec$'
step_lines() { grep '^step ' "$1"; }
losses_only() { grep '^step ' "$1" | sed 's/, speed: .*$//'; }
printed_steps() { sed -n 's/^step \([0-9][0-9]*\): .*/\1/p' "$1" | tr '\n' ' ' | sed 's/ $//'; }

# Checks that every "step ..." line of a training's stdout has the documented format.
check_step_format() {
    local out=$1 all good
    all=$(grep -c '^step ' "$out")
    good=$(grep -c "$STEP_LINE" "$out")
    [ "$all" -gt 0 ] || { show "$out"; fail "no 'step N: ...' lines in $out"; }
    [ "$all" -eq "$good" ] || { show "$out"; fail "$((all - good)) malformed 'step' lines in $out"; }
}

# UTF-8 characters (code points) in a file: every byte that is not a continuation byte starts one.
char_count() { tr -d '\200-\277' <"$1" | wc -c | tr -d ' '; }

# Distinct code points in a UTF-8 file: split into characters with a byte-level pattern (grep works line
# by line, so a newline is counted separately).
distinct_chars() {
    local n newlines
    n=$(grep -o -E $'[\x01-\x09\x0b-\x7f]|[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}' "$1" |
        sort -u | wc -l | tr -d ' ')
    newlines=$(tr -cd '\n' <"$1" | wc -c | tr -d ' ')
    [ "$newlines" -gt 0 ] && n=$((n + 1))
    echo "$n"
}

# Distinct byte values in a file.
distinct_bytes() { od -An -v -tx1 "$1" | tr -s ' ' '\n' | grep . | sort -u | wc -l | tr -d ' '; }

# The value after "label:" in `babygpt info` output.
info_field() { sed -n "s/^$2: *//p" "$1"; }

# ---- corpora -----------------------------------------------------------------------------------------

# About 4 KB of English sentences, ASCII (29 distinct characters with the newline).
write_english() {
    local w1=(the a one every some my your our their this)
    local w2=(quick lazy small bright quiet old young happy brave clever)
    local w3=(fox dog cat bird horse child farmer sailor king queen)
    local w4=(jumps runs sings sleeps walks reads writes dances waits smiles)
    local w5=("today." "again." "slowly." "at night." "in the garden." "by the river." "with joy." "alone."
              "quickly." "once more.")
    local i
    : >"$1"
    for ((i = 0; i < 150; i++)); do
        printf '%s %s %s %s %s\n' "${w1[i % 10]}" "${w2[(i * 3 + 1) % 10]}" "${w3[(i * 7 + 2) % 10]}" \
            "${w4[(i / 10 + i) % 10]}" "${w5[(i * i) % 10]}" >>"$1"
    done
}

# About 4 KB of Chinese: 120 lines of 10 characters in varying order from a list of 50 (one of them
# twice), with the full-width comma and full stop, in UTF-8. "春江" and "往事" both occur.
write_chinese() {
    local zh=(春 江 潮 水 连 海 平 明 月 共 生 滟 随 波 千 万 里 何 处 无 流 宛 转 绕 芳 甸 花 林 皆 似
              霰 空 里 霜 飞 觉 汀 上 白 沙 看 不 见 往 事 知 多 少 秋 风)
    local i j line
    : >"$1"
    for ((i = 0; i < 120; i++)); do
        line=""
        for ((j = 0; j < 10; j++)); do
            line+="${zh[(i * 7 + j * j * 3 + j * 11) % 50]}"
            [ $j -eq 4 ] && line+="，"
        done
        printf '%s。\n' "$line" >>"$1"
        [ $((i % 40)) -eq 0 ] && printf '春江潮水连海平，往事知多少。\n' >>"$1"
    done
}

# A text with other characters than write_english's (digits and capitals).
write_other() {
    local i
    : >"$1"
    for ((i = 0; i < 100; i++)); do printf 'XYZ %d QRS %d\n' "$i" "$((i * 7 % 13))" >>"$1"; done
}

# A tiny, fast model; each case adds --data, --out, --max-iters and --eval-interval.
TINY_MODEL=(--batch-size 8 --block-size 16 --n-embed 32 --n-head 4 --n-layer 2 --eval-iters 3)
TINY=("${TINY_MODEL[@]}" --sample-tokens 0)

# ---- cases -------------------------------------------------------------------------------------------

# check_training <corpus> <sample-tokens>: trains on <corpus> for 60 steps and checks the printed losses,
# the run's files and `info`.
check_training() {
    local corpus=$1
    run_ok train train --data "$corpus" --out run/model.safetensors "${TINY_MODEL[@]}" --sample-tokens "$2" \
        --max-iters 60 --eval-interval 20
    [ -s train.err ] && { show train.err; fail "training wrote to stderr"; }

    # Output to a pipe or file: whole lines only, no progress display.
    if grep -q $'\r' train.out || grep -q $'\033' train.out; then
        show train.out
        fail "stdout is not a terminal, yet the output has carriage returns or escape sequences"
    fi
    note "no progress line (carriage return) when stdout is not a terminal"

    check_step_format train.out
    local steps
    steps=$(printed_steps train.out)
    [ "$steps" = "0 20 40 59" ] || { show train.out; fail "evaluated at steps '$steps', expected '0 20 40 59'"; }
    local first last
    first=$(step_lines train.out | head -n 1 | sed 's/.*train loss \([0-9.]*\),.*/\1/')
    last=$(step_lines train.out | tail -n 1 | sed 's/.*train loss \([0-9.]*\),.*/\1/')
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b + 0 < a + 0) }' ||
        { show train.out; fail "the train loss did not decrease: first $first, last $last"; }
    note "train loss fell from $first to $last over steps $steps"

    local f
    for f in run/model.safetensors run/model.optim.safetensors run/model.csv run/model.svg; do
        [ -s "$f" ] || { ls -la run >&2; fail "$f was not written"; }
    done
    [ "$(head -n 1 run/model.csv)" = "step,train_loss,val_loss,tokens_per_sec,elapsed" ] ||
        { show run/model.csv; fail "unexpected CSV header"; }
    local csv_steps
    csv_steps=$(tail -n +2 run/model.csv | cut -d, -f1 | tr '\n' ' ' | sed 's/ $//')
    [ "$csv_steps" = "$steps" ] || { show run/model.csv; fail "CSV rows for steps '$csv_steps', expected '$steps'"; }
    [ "$(tail -n +2 run/model.csv | awk -F, 'NF != 5' | wc -l | tr -d ' ')" = 0 ] ||
        { show run/model.csv; fail "CSV rows without 5 fields"; }
    [ "$(head -c 4 run/model.svg)" = "<svg" ] || { show run/model.svg; fail "the SVG does not start with <svg"; }
    [ "$(grep -o '<polyline' run/model.svg | wc -l | tr -d ' ')" = 2 ] ||
        { show run/model.svg; fail "the SVG does not have two <polyline> (train and val)"; }
    note "checkpoint, optimizer state, CSV (one row per evaluation) and SVG written"

    run_ok info info --checkpoint run/model.safetensors
    local expected_vocab vocab
    expected_vocab=$(distinct_chars "$corpus")
    vocab=$(info_field info.out "vocab size")
    [ "$vocab" = "$expected_vocab" ] ||
        { show info.out; fail "info reports vocab size '$vocab'; the corpus has $expected_vocab distinct characters"; }
    [ "$(info_field info.out step)" = 60 ] || { show info.out; fail "info does not report step 60"; }
    grep -q "vocabulary $expected_vocab;" train.out || { show train.out; fail "training header lacks 'vocabulary $expected_vocab'"; }
    local chars
    chars=$(char_count "$corpus")
    grep -q "^babygpt: $corpus, $chars characters," train.out ||
        { show train.out; fail "training header does not report $chars characters"; }
    note "vocab size $vocab = distinct characters of $corpus; $chars characters ($(wc -c <"$corpus" | tr -d ' ') bytes)"
}

test_train_english() {
    write_english en.txt
    check_training en.txt 0
}

test_train_chinese() {
    write_chinese zh.txt
    local bytes chars
    bytes=$(wc -c <zh.txt | tr -d ' ')
    chars=$(char_count zh.txt)
    [ "$chars" -lt "$bytes" ] || fail "the Chinese corpus should have fewer characters than bytes"
    # After training, the default prompts are "春江" and "往事" when the vocabulary has them.
    check_training zh.txt 20
    local distinct_b
    distinct_b=$(distinct_bytes zh.txt)
    [ "$(distinct_chars zh.txt)" != "$distinct_b" ] || fail "test corpus: distinct characters equal distinct bytes"
    note "a Chinese character is one token: vocab $(distinct_chars zh.txt), not $distinct_b distinct bytes"
    grep -q '^--- sample (prompt "春江") ---$' train.out && grep -q '^--- sample (prompt "往事") ---$' train.out ||
        { show train.out; fail "no samples for the prompts 春江 and 往事"; }
    grep -q '^春江' train.out && grep -q '^往事' train.out || { show train.out; fail "samples do not start with their prompts"; }
    note "samples after training continue the prompts 春江 and 往事"
}

# A run of 40 steps equals a run of 20 steps resumed up to 40: losses and the final model.
test_resume_matches() {
    write_english en.txt
    local common=(--data en.txt "${TINY[@]}" --eval-interval 10 --dropout 0.1)
    run_ok full train "${common[@]}" --max-iters 40 --out full/model.safetensors
    run_ok half train "${common[@]}" --max-iters 20 --out split/model.safetensors
    run_ok rest train --resume split/model.safetensors --max-iters 40 --sample-tokens 0
    grep -q 'resuming at step 20' rest.out || { show rest.out; fail "the resumed run does not start at step 20"; }
    check_step_format rest.out

    local a b
    a=$(losses_only full.out | grep '^step 39:')
    b=$(losses_only rest.out | grep '^step 39:')
    [ -n "$a" ] && [ "$a" = "$b" ] || { show full.out rest.out; fail "final losses differ: '$a' vs '$b'"; }
    # Every evaluation of the resumed part matches the uninterrupted run's.
    [ "$(losses_only rest.out)" = "$(losses_only full.out | awk '$2 + 0 >= 20')" ] ||
        { show full.out rest.out; fail "the resumed run's losses differ from the uninterrupted run's"; }
    note "resumed run reproduces the uninterrupted losses: $a"

    run_ok info_full info --checkpoint full/model.safetensors
    run_ok info_split info --checkpoint split/model.safetensors
    [ "$(info_field info_split.out step)" = 40 ] || { show info_split.out; fail "the resumed checkpoint is not at step 40"; }

    run_ok sample_full sample --checkpoint full/model.safetensors --prompt "the " --seed 11 --max-new-tokens 120
    run_ok sample_split sample --checkpoint split/model.safetensors --prompt "the " --seed 11 --max-new-tokens 120
    cmp -s sample_full.out sample_split.out || { show sample_full.out sample_split.out; fail "samples differ"; }
    note "samples from both final checkpoints are identical"
}

# The largest --seed (2^64 - 1) round-trips through the checkpoint: info, sample and --resume read it back.
test_max_seed() {
    write_english en.txt
    local max=18446744073709551615
    run_ok max_seed train --data en.txt "${TINY[@]}" --max-iters 4 --eval-interval 2 --seed "$max" \
        --out seed/model.safetensors
    run_ok max_seed_info info --checkpoint seed/model.safetensors
    grep -q "seed $max\$" max_seed_info.out || { show max_seed_info.out; fail "info does not show seed $max"; }
    run_ok max_seed_sample sample --checkpoint seed/model.safetensors --prompt "the " --max-new-tokens 5
    run_ok max_seed_resume train --resume seed/model.safetensors --seed "$max" --max-iters 6 --sample-tokens 0
    run_ok max_seed_info2 info --checkpoint seed/model.safetensors
    [ "$(info_field max_seed_info2.out step)" = 6 ] || { show max_seed_info2.out; fail "the resumed run did not save step 6"; }
    note "--seed $max: info, sample and --resume (with the same --seed) read the checkpoint"
}

test_sample_reproducible() {
    write_english en.txt
    run_ok train train --data en.txt "${TINY[@]}" --max-iters 40 --eval-interval 20 --out run/model.safetensors
    local ckpt=run/model.safetensors

    run_ok s7a sample --checkpoint "$ckpt" --prompt "the " --seed 7 --max-new-tokens 200
    run_ok s7b sample --checkpoint "$ckpt" --prompt "the " --seed 7 --max-new-tokens 200
    cmp -s s7a.out s7b.out || { show s7a.out s7b.out; fail "the same seed gave different samples"; }
    [ -s s7a.err ] && { show s7a.err; fail "sample wrote to stderr"; }
    [ "$(head -c 4 s7a.out)" = "the " ] || { show s7a.out; fail "the sample does not start with its prompt"; }
    note "same seed, same sample"

    run_ok s8 sample --checkpoint "$ckpt" --prompt "the " --seed 8 --max-new-tokens 200
    cmp -s s7a.out s8.out && { show s7a.out s8.out; fail "seeds 7 and 8 gave the same 200-character sample"; }
    note "another seed, another sample"

    # The corpus is ASCII, so bytes are characters: the prompt, the new characters, a newline.
    local n expected
    for n in 0 1 25 77; do
        run_ok len sample --checkpoint "$ckpt" --prompt "the " --seed 7 --max-new-tokens "$n"
        expected=$((4 + n + 1))
        [ "$(wc -c <len.out | tr -d ' ')" = "$expected" ] ||
            { show len.out; fail "--max-new-tokens $n printed $(wc -c <len.out) bytes, expected $expected"; }
    done
    run_ok len sample --checkpoint "$ckpt" --prompt "the " --seed 7 --max-new-tokens 25
    [ "$(head -c 29 s7a.out)" = "$(head -c 29 len.out)" ] ||
        { show s7a.out len.out; fail "a shorter generation is not a prefix of the longer one with the same seed"; }
    note "--max-new-tokens sets the length (0, 1, 25, 77)"

    run_ok k1a sample --checkpoint "$ckpt" --prompt "the " --top-k 1 --seed 1 --max-new-tokens 100
    run_ok k1b sample --checkpoint "$ckpt" --prompt "the " --top-k 1 --seed 1 --max-new-tokens 100
    run_ok k1c sample --checkpoint "$ckpt" --prompt "the " --top-k 1 --seed 99 --max-new-tokens 100
    cmp -s k1a.out k1b.out || { show k1a.out k1b.out; fail "--top-k 1 twice gave different samples"; }
    cmp -s k1a.out k1c.out || { show k1a.out k1c.out; fail "--top-k 1 (greedy) depends on the seed"; }
    note "--top-k 1 is deterministic (and independent of the seed)"

    run_ok multi sample --checkpoint "$ckpt" --prompt "the " --prompt "a " --seed 7 --max-new-tokens 10
    grep -q '^the ' multi.out && grep -q '^a ' multi.out || { show multi.out; fail "two prompts, not two samples"; }
    note "repeated --prompt samples each prompt"
}

# expect_error <name> <phrase> <args...>: the command fails with one "error: ..." line on stderr that
# contains <phrase>, prints nothing on stdout, and leaves no file in out/.
expect_error() {
    local name=$1 phrase=$2
    shift 2
    rm -rf out
    run "$name" "$@"
    local problem=""
    if [ "$RC" -eq 0 ]; then problem="exited with 0"
    elif [ "$RC" -ge 128 ]; then problem="died with exit code $RC (a crash or abort)"
    elif [ "$(line_count "$name.err")" -ne 1 ]; then problem="stderr has $(line_count "$name.err") lines, expected 1"
    elif ! head -n 1 "$name.err" | grep -q '^error: '; then problem="stderr does not start with 'error: '"
    elif ! grep -qF -- "$phrase" "$name.err"; then problem="stderr lacks \"$phrase\""
    elif grep -qE 'terminate called|what\(\)|Aborted|Segmentation' "$name.err"; then problem="looks like a crash"
    elif [ -s "$name.out" ]; then problem="printed to stdout"
    elif [ -d out ] && [ -n "$(ls -A out)" ]; then problem="left files in the output directory: $(ls -A out | tr '\n' ' ')"
    fi
    if [ -n "$problem" ]; then
        show "$name.out" "$name.err"
        fail "'babygpt $*': $problem"
    fi
    note "$name: $(cat "$name.err")"
}

# expect_parse_error <name> <args...>: a command-line syntax error (reported by CLI11) exits non-zero
# without a crash and without writing anything.
expect_parse_error() {
    local name=$1
    shift
    rm -rf out
    run "$name" "$@"
    if [ "$RC" -eq 0 ] || [ "$RC" -ge 128 ] || [ ! -s "$name.err" ] ||
        grep -qE 'terminate called|what\(\)|Aborted|Segmentation' "$name.err" ||
        { [ -d out ] && [ -n "$(ls -A out)" ]; }; then
        show "$name.out" "$name.err"
        fail "'babygpt $*': expected a command-line error (exit code $RC)"
    fi
    note "$name: exit code $RC: $(head -n 1 "$name.err")"
}

test_bad_inputs() {
    write_english en.txt
    local OUT=(--out out/model.safetensors)
    # TINY without the model's shape, which some checks set themselves.
    local SETTINGS=(--data en.txt --batch-size 8 --block-size 16 --eval-iters 3 --sample-tokens 0 --max-iters 10
                    --eval-interval 5)
    local T=("${SETTINGS[@]}" "${OUT[@]}")

    # ---- the text ----
    expect_error missing_data "no such file" train --data nothing-here.txt "${TINY[@]}" "${OUT[@]}"
    : >empty.txt
    expect_error empty_data "empty" train --data empty.txt "${TINY[@]}" "${OUT[@]}"
    printf 'abc\xff\xfedef' >bad.txt
    expect_error invalid_utf8 "byte offset 3" train --data bad.txt "${TINY[@]}" "${OUT[@]}"
    grep -qF "invalid UTF-8" invalid_utf8.err || fail "the invalid UTF-8 message does not say so"
    printf 'a short text\n' >short.txt
    expect_error too_short "too short for block size 16" train --data short.txt "${TINY[@]}" "${OUT[@]}"

    # ---- settings ----
    expect_error indivisible "divisible" train "${T[@]}" --n-embed 30 --n-head 4
    expect_error zero_layers "--n-layer must be a positive integer" train "${T[@]}" --n-layer 0
    expect_error negative_batch "--batch-size must be a positive integer" train --data en.txt --batch-size -1 \
        --max-iters 10 "${OUT[@]}"
    expect_error dropout_one "--dropout must be in [0, 1)" train "${T[@]}" --dropout 1.0
    expect_error unknown_preset "unknown preset 'v99'" train "${T[@]}" --preset v99

    # ---- command-line syntax (CLI11's own messages) ----
    expect_parse_error unknown_option train "${T[@]}" --no-such-option 3
    expect_parse_error non_numeric train --data en.txt --max-iters abc "${OUT[@]}"
    expect_parse_error no_subcommand
    expect_parse_error sample_without_checkpoint sample --prompt "x"

    # ---- checkpoints: a valid one on en.txt, and broken copies ----
    run_ok train_ck train "${SETTINGS[@]}" --n-layer 2 --out ck/model.safetensors
    write_other other.txt
    expect_error other_vocabulary "vocabulary" train --resume ck/model.safetensors --data other.txt --max-iters 20 \
        "${OUT[@]}"

    local size
    size=$(wc -c <ck/model.safetensors | tr -d ' ')
    mkdir -p broken
    head -c $((size / 2)) ck/model.safetensors >broken/half.safetensors
    cp ck/model.optim.safetensors broken/half.optim.safetensors
    cp ck/model.safetensors broken/garbage.safetensors
    cp ck/model.optim.safetensors broken/garbage.optim.safetensors
    printf 'GARBAGE!' | dd of=broken/garbage.safetensors bs=1 count=8 conv=notrunc 2>/dev/null
    local kind phrase
    for kind in half garbage; do
        phrase="truncated"
        [ "$kind" = garbage ] && phrase="is this a safetensors file"
        expect_error "${kind}_info" "$phrase" info --checkpoint "broken/$kind.safetensors"
        expect_error "${kind}_sample" "$phrase" sample --checkpoint "broken/$kind.safetensors" --prompt "the "
        expect_error "${kind}_resume" "$phrase" train --resume "broken/$kind.safetensors" --max-iters 20 "${OUT[@]}"
    done
    expect_error missing_info "no such checkpoint file" info --checkpoint nothing.safetensors
    expect_error missing_sample "no such checkpoint file" sample --checkpoint nothing.safetensors
    expect_error missing_resume "no such checkpoint file" train --resume nothing.safetensors --data en.txt "${OUT[@]}"

    # ---- sampling options ----
    local ck=ck/model.safetensors
    expect_error unknown_chars "not in the model's vocabulary" sample --checkpoint "$ck" --prompt "the QZ€ the"
    grep -qF "'Q'" unknown_chars.err && grep -qF "'Z'" unknown_chars.err && grep -qF "'€'" unknown_chars.err ||
        { show unknown_chars.err; fail "the message does not list the unknown characters Q, Z and €"; }
    expect_error empty_prompt "the prompt is empty" sample --checkpoint "$ck" --prompt ""
    expect_error zero_temperature "--temperature must be positive" sample --checkpoint "$ck" --temperature 0
    expect_error negative_top_k "--top-k must be >= 0" sample --checkpoint "$ck" --top-k -1
}

test_interrupt() {
    write_english en.txt
    "$BIN" train --data en.txt "${TINY[@]}" --max-iters 100000 --eval-interval 50 --out run/model.safetensors \
        >train.out 2>train.err &
    BACKGROUND_PID=$!
    local i
    for ((i = 0; i < 400; i++)); do
        [ -f run/model.safetensors ] && break
        kill -0 "$BACKGROUND_PID" 2>/dev/null || { show train.out train.err; fail "training ended early"; }
        sleep 0.05
    done
    [ -f run/model.safetensors ] || { show train.out train.err; fail "no checkpoint after the step-0 evaluation"; }
    sleep 0.3
    kill -INT "$BACKGROUND_PID"
    wait "$BACKGROUND_PID"
    local rc=$?
    BACKGROUND_PID=""
    [ "$rc" -eq 130 ] || { show train.out train.err; fail "exit code $rc after SIGINT, expected 130"; }
    grep -q '^interrupted at step [0-9]*; saved run/model.safetensors' train.out ||
        { show train.out; fail "stdout does not report the interruption"; }
    local step
    step=$(sed -n 's/^interrupted at step \([0-9]*\);.*/\1/p' train.out)
    note "SIGINT: exit code 130, interrupted at step $step"
    compgen -G 'run/*.tmp*' >/dev/null && { ls -la run >&2; fail "temporary files left behind"; }
    note "no temporary files left"

    run_ok info info --checkpoint run/model.safetensors
    [ "$(info_field info.out step)" = "$step" ] || { show info.out; fail "info does not report step $step"; }
    note "the saved checkpoint is at step $step"

    run_ok resume train --resume run/model.safetensors --max-iters $((step + 15)) --sample-tokens 0
    grep -q "resuming at step $step\$" resume.out || { show resume.out; fail "the resumed run does not start at step $step"; }
    grep -q "^step $((step + 14)): " resume.out || { show resume.out; fail "the resumed run did not reach step $((step + 14))"; }
    run_ok info2 info --checkpoint run/model.safetensors
    [ "$(info_field info2.out step)" = $((step + 15)) ] || { show info2.out; fail "the resumed run did not save step $((step + 15))"; }
    compgen -G 'run/*.tmp*' >/dev/null && { ls -la run >&2; fail "temporary files left behind"; }
    note "resumed from step $step to $((step + 15))"
}

# SIGKILL at arbitrary moments while a checkpoint is written every step: the checkpoint is never corrupt,
# the run resumes after every kill, and the result equals an uninterrupted run's.
test_kill_atomic() {
    write_english en.txt
    local args=(--data en.txt "${TINY[@]}" --eval-interval 20)
    "$BIN" train "${args[@]}" --out run/model.safetensors --max-iters 100000 --save-every 1 >train0.out 2>train0.err &
    BACKGROUND_PID=$!
    local delay n=0 step
    for delay in 0.3 0.7 1.1 0.5; do
        sleep "$delay"
        kill -9 "$BACKGROUND_PID" 2>/dev/null
        wait "$BACKGROUND_PID" 2>/dev/null
        BACKGROUND_PID=""
        n=$((n + 1))
        if [ -f run/model.safetensors ]; then
            run_ok "info$n" info --checkpoint run/model.safetensors
            step=$(info_field "info$n.out" step)
            note "kill $n after ${delay}s: checkpoint intact at step $step"
            # Restart where it left off.
            "$BIN" train --resume run/model.safetensors --save-every 1 >"train$n.out" 2>"train$n.err" &
        else
            note "kill $n after ${delay}s: no checkpoint yet"
            "$BIN" train "${args[@]}" --out run/model.safetensors --max-iters 100000 --save-every 1 \
                >"train$n.out" 2>"train$n.err" &
        fi
        BACKGROUND_PID=$!
    done
    sleep 0.5
    kill -9 "$BACKGROUND_PID" 2>/dev/null
    wait "$BACKGROUND_PID" 2>/dev/null
    BACKGROUND_PID=""
    for ((n = 1; n <= 4; n++)); do
        [ -s "train$n.err" ] && { show "train$n.out" "train$n.err"; fail "restart $n failed"; }
    done
    [ -f run/model.safetensors ] || fail "no checkpoint after all the kills"
    run_ok info_last info --checkpoint run/model.safetensors
    step=$(info_field info_last.out step)
    note "last kill: checkpoint intact at step $step; temporary files left by SIGKILL: $(compgen -G 'run/*.tmp*' | wc -l | tr -d ' ')"

    local end=$((step + 3))
    run_ok finish train --resume run/model.safetensors --max-iters "$end" --sample-tokens 0
    run_ok straight train "${args[@]}" --max-iters "$end" --out straight/model.safetensors
    local a b
    a=$(losses_only finish.out | tail -n 1)
    b=$(losses_only straight.out | tail -n 1)
    [ -n "$a" ] && [ "$a" = "$b" ] || { show finish.out straight.out; fail "after the kills: '$a'; uninterrupted: '$b'"; }
    note "resumed after 5 kills to step $end, same losses as an uninterrupted run: $a"
}

test_config_file() {
    write_english en.txt
    printf '# a training configuration\nmax-iters = 12\neval-interval = 4\n' >run.toml
    local common=(--data en.txt "${TINY[@]}")

    run_ok from_file train "${common[@]}" --out run/model.safetensors --config run.toml
    [ "$(printed_steps from_file.out)" = "0 4 8 11" ] ||
        { show from_file.out; fail "steps '$(printed_steps from_file.out)', expected '0 4 8 11' from the config file"; }
    run_ok info info --checkpoint run/model.safetensors
    grep -q 'max_iters 12, eval_interval 4,' info.out || { show info.out; fail "info does not show the config's settings"; }
    note "the config file sets max-iters 12 and eval-interval 4"

    run_ok override train "${common[@]}" --out run/model.safetensors --config run.toml --max-iters 9 --overwrite
    [ "$(printed_steps override.out)" = "0 4 8" ] ||
        { show override.out; fail "steps '$(printed_steps override.out)', expected '0 4 8' (--max-iters 9 wins, eval-interval 4 from the file)"; }
    note "--max-iters 9 on the command line wins over the file; eval-interval still comes from it"

    # Every train option can come from the file, strings included.
    printf 'data = "en.txt"\nout = "other/model.safetensors"\nmax-iters = 6\neval-interval = 3\nbatch-size = 8\nblock-size = 16\nn-layer = 2\neval-iters = 2\nsample-tokens = 0\n' >all.toml
    run_ok all_options train --config all.toml
    [ -f other/model.safetensors ] && [ "$(printed_steps all_options.out)" = "0 3 5" ] ||
        { show all_options.out; fail "--data, --out and the settings were not taken from the config file"; }
    note "data, out and the settings are taken from the file"

    printf 'max-iters = 12\nmax-iter = 5\n' >typo.toml
    expect_error typo "'max-iter' is not an option" train "${common[@]}" --config typo.toml --out out/model.safetensors
    expect_error missing_config "no-such.toml" train "${common[@]}" --config no-such.toml --out out/model.safetensors
    printf 'max-iters = []\n' >empty.toml  # no value at all (a crash the config fuzzer found)
    expect_error empty_value "'max-iters' has no value" train "${common[@]}" --config empty.toml --out out/model.safetensors
    printf 'overwrite = []\n' >empty_flag.toml
    expect_error empty_flag "'overwrite'" train "${common[@]}" --config empty_flag.toml --out out/model.safetensors
}

test_help() {
    run_ok train_help train --help
    local option
    for option in --batch-size --block-size --n-embed --n-head --n-layer --dropout --learning-rate --max-iters \
        --eval-interval --eval-iters --train-ratio --seed --threads --preset --config --resume --save-every --out \
        --data --sample-tokens; do
        grep -qE -- "(^|[ ,])$option([ =]|\$)" train_help.out || { show train_help.out; fail "train --help does not mention $option"; }
    done
    note "train --help lists all options"
    run_ok sample_help sample --help
    for option in --checkpoint --prompt --max-new-tokens --temperature --top-k --seed --threads; do
        grep -qE -- "(^|[ ,])$option([ =]|\$)" sample_help.out || { show sample_help.out; fail "sample --help does not mention $option"; }
    done
    note "sample --help lists all options"
    run_ok info_help info --help
    grep -qE -- "(^|[ ,])--checkpoint([ =]|\$)" info_help.out || { show info_help.out; fail "info --help does not mention --checkpoint"; }
    note "info --help lists --checkpoint"
    run_ok main_help --help
    for option in train sample info; do
        grep -qE "^ +$option " main_help.out || { show main_help.out; fail "--help does not list the subcommand $option"; }
    done
    run_ok version --version
    grep -qE '^[0-9]+\.[0-9]+\.[0-9]+' version.out || { show version.out; fail "--version does not print a version"; }
    note "--help lists the subcommands; --version prints $(cat version.out)"
}

test_threads_deterministic() {
    write_english en.txt
    local common=(--data en.txt "${TINY[@]}" --max-iters 40 --eval-interval 10 --threads 2)
    run_ok first train "${common[@]}" --out first/model.safetensors
    run_ok second train "${common[@]}" --out second/model.safetensors
    grep -q '; 2 threads$' first.out || { show first.out; fail "the header does not report 2 threads"; }
    check_step_format first.out
    [ "$(losses_only first.out)" = "$(losses_only second.out)" ] ||
        { show first.out second.out; fail "two runs with --threads 2 gave different losses"; }
    note "two runs with --threads 2 print the same losses ($(losses_only first.out | tail -n 1))"
}

# ---- background trainers and signals -----------------------------------------------------------------

# start_background <name> <args...>: runs babygpt in the background, stdout in <name>.out, stderr in <name>.err.
start_background() {
    local name=$1
    shift
    "$BIN" "$@" >"$name.out" 2>"$name.err" &
    BACKGROUND_PID=$!
}

# wait_until <what> <command...>: waits up to 20 s until the command succeeds, while the background process runs.
wait_until() {
    local what=$1 i
    shift
    for ((i = 0; i < 400; i++)); do
        "$@" && return 0
        kill -0 "$BACKGROUND_PID" 2>/dev/null || fail "the background process ended before $what"
        sleep 0.05
    done
    fail "waited 20 s for $what"
}

# longer_than <file> <bytes>: the file exists and has more bytes.
longer_than() { [ -f "$1" ] && [ "$(wc -c <"$1")" -gt "$2" ]; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# stop_with <signal>: sends the signal to the background process and waits for it; RC is its exit
# status and STOP_MS the milliseconds from the signal to the exit.
STOP_MS=0
stop_with() {
    local start
    start=$(now_ms)
    kill -"$1" "$BACKGROUND_PID"
    wait "$BACKGROUND_PID"
    RC=$?
    STOP_MS=$(($(now_ms) - start))
    BACKGROUND_PID=""
}

# check_stopped <name> <signal> <expected-status> <checkpoint>: the stopped trainer exited with the status
# within 2 s, said so, and left a loadable checkpoint and no temporary or lock file.
check_stopped() {
    local name=$1 sig=$2 status=$3 ckpt=$4 dir
    dir=$(dirname "$ckpt")
    [ "$RC" -eq "$status" ] || { show "$name.out" "$name.err"; fail "$name: exit status $RC after SIG$sig, expected $status"; }
    [ "$STOP_MS" -lt 2000 ] || { show "$name.out" "$name.err"; fail "$name: took $STOP_MS ms to exit after SIG$sig"; }
    [ -s "$name.err" ] && { show "$name.out" "$name.err"; fail "$name: wrote to stderr"; }
    compgen -G "$dir/*.tmp.*" >/dev/null && { ls -la "$dir" >&2; fail "$name: temporary files left after SIG$sig"; }
    compgen -G "$dir/*.lock" >/dev/null && { ls -la "$dir" >&2; fail "$name: lock file left after SIG$sig"; }
    run_ok "${name}_info" info "$ckpt"
}

# SIGINT, SIGTERM and SIGHUP, during training steps and during a slow evaluation, each save a loadable
# checkpoint and exit with 128 + the signal's number within 2 s; so do two quick SIGINTs. A run
# interrupted in its evaluation resumes and evaluates that step.
test_signals() {
    write_english en.txt
    # An evaluation of a million batches of the tiny model takes minutes: the signal comes during it.
    local SLOW_EVAL=(--batch-size 8 --block-size 16 --n-embed 32 --n-head 4 --n-layer 2 --eval-iters 1000000
                     --sample-tokens 0)
    local sig status step
    for sig in INT TERM HUP; do
        case $sig in INT) status=130 ;; TERM) status=143 ;; HUP) status=129 ;; esac

        rm -rf run
        start_background "train_$sig" train --data en.txt "${TINY[@]}" --max-iters 1000000 --eval-interval 1000000 \
            --out run/model.safetensors
        wait_until "the step-0 checkpoint" test -f run/model.safetensors
        sleep 0.3
        stop_with "$sig"
        check_stopped "train_$sig" "$sig" "$status" run/model.safetensors
        grep -q "^interrupted at step [0-9]*; saved run/model.safetensors (SIG$sig;" "train_$sig.out" ||
            { show "train_$sig.out"; fail "SIG$sig during training: stdout does not report the interruption"; }
        step=$(info_field "train_${sig}_info.out" step)
        [ "$step" -gt 0 ] || { show "train_${sig}_info.out"; fail "SIG$sig during training saved step $step"; }
        note "SIG$sig during training: exit status $status after $STOP_MS ms, checkpoint at step $step, no temporaries"

        rm -rf run
        start_background "eval_$sig" train --data en.txt "${SLOW_EVAL[@]}" --max-iters 100 --eval-interval 50 \
            --out run/model.safetensors
        wait_until "the banner" grep -qs '^babygpt: ' "eval_$sig.out"
        sleep 0.5
        stop_with "$sig"
        check_stopped "eval_$sig" "$sig" "$status" run/model.safetensors
        grep -q "^interrupted at step 0; saved run/model.safetensors (SIG$sig during the evaluation;" "eval_$sig.out" ||
            { show "eval_$sig.out"; fail "SIG$sig during the evaluation: stdout does not report it"; }
        note "SIG$sig during the step-0 evaluation: exit status $status after $STOP_MS ms, step-0 checkpoint saved"
    done

    # The run stopped in its step-0 evaluation resumes with that evaluation.
    run_ok resumed train --resume run/model.safetensors --eval-iters 3 --max-iters 4
    [ "$(printed_steps resumed.out)" = "0 3" ] || { show resumed.out; fail "the resumed run evaluated at '$(printed_steps resumed.out)', expected '0 3'"; }
    note "resuming a run stopped during its step-0 evaluation evaluates step 0"

    # Ctrl-C twice in quick succession (the second one while saving): one complete checkpoint.
    rm -rf run
    start_background twice train --data en.txt "${TINY[@]}" --max-iters 1000000 --eval-interval 1000000 \
        --save-every 1 --out run/model.safetensors
    wait_until "the step-0 checkpoint" test -f run/model.safetensors
    sleep 0.3
    kill -INT "$BACKGROUND_PID"
    stop_with INT
    check_stopped twice INT 130 run/model.safetensors
    note "two SIGINTs: exit status 130 after $STOP_MS ms, checkpoint intact"

    # Generation stops within the second: `babygpt sample` and the sample after training.
    start_background sample sample run/model.safetensors --max-new-tokens 100000000 --prompt "the "
    wait_until "sampled characters" longer_than sample.out 20
    stop_with TERM
    [ "$RC" -eq 143 ] && [ "$STOP_MS" -lt 2000 ] ||
        { show sample.out sample.err; fail "sample: exit status $RC after $STOP_MS ms of SIGTERM, expected 143 within 2 s"; }
    note "SIGTERM during 'babygpt sample': exit status 143 after $STOP_MS ms"

    rm -rf after
    start_background after train --data en.txt "${TINY_MODEL[@]}" --max-iters 6 --eval-interval 3 \
        --sample-tokens 100000000 --out after/model.safetensors
    wait_until "the sample after training" grep -qs '^--- sample' after.out
    sleep 0.3
    stop_with HUP
    check_stopped after HUP 129 after/model.safetensors
    [ "$(info_field after_info.out step)" = 6 ] || { show after_info.out; fail "the checkpoint before sampling is not at step 6"; }
    note "SIGHUP while sampling after training: exit status 129 after $STOP_MS ms, the step-6 checkpoint kept"
}

# The files given to the trainer are never replaced by its outputs, an earlier run is kept unless
# --overwrite is given, and two trainers never write the same run.
test_no_data_loss() {
    write_english en.txt
    mkdir -p d keep
    cp en.txt d/x.txt
    cp en.txt notes.csv
    printf 'max-iters = 4\n' >c.toml
    cp en.txt keep/en.txt
    local T=("${TINY[@]}" --max-iters 4 --eval-interval 2)

    # expect_refused <name> <phrase> <args...>: as expect_error, and the inputs are unchanged.
    expect_refused() {
        expect_error "$@"
        cmp -s d/x.txt en.txt && cmp -s notes.csv en.txt && [ "$(cat c.toml)" = "max-iters = 4" ] ||
            fail "$1: an input file was changed"
        compgen -G '*.tmp.*' >/dev/null || compgen -G 'd/*.tmp.*' >/dev/null || compgen -G '*.lock' >/dev/null ||
            compgen -G 'd/*.lock' >/dev/null && { ls -la . d >&2; fail "$1: left a temporary or lock file"; }
    }
    expect_refused data_is_out "would replace the --data file d/x.txt" train --data d/x.txt --out d/x.txt "${T[@]}"
    expect_refused data_is_out_dotted "would replace the --data file" train --data d/x.txt --out ./d/../d/x.txt "${T[@]}"
    ln -s d/x.txt link.safetensors
    expect_refused data_is_out_symlink "would replace the --data file" train --data d/x.txt --out link.safetensors "${T[@]}"
    ln d/x.txt hard.safetensors
    expect_refused data_is_out_hardlink "would replace the --data file" train --data d/x.txt --out hard.safetensors "${T[@]}"
    expect_refused data_is_csv "the metrics CSV notes.csv would replace the --data file notes.csv" \
        train --data notes.csv --out notes.safetensors "${T[@]}"
    mkdir -p runs
    cp en.txt runs/notes.csv
    expect_refused data_is_default_csv "the metrics CSV runs/notes.csv would replace the --data file runs/notes.csv" \
        train --data runs/notes.csv "${T[@]}"
    cmp -s runs/notes.csv en.txt || fail "runs/notes.csv was changed"
    [ -z "$(ls runs | grep -v '^notes.csv$')" ] || { ls -la runs >&2; fail "files were left in runs/"; }
    expect_refused config_is_out "would replace the --config file c.toml" train --data en.txt --config c.toml \
        --out c.toml "${TINY[@]}"
    expect_refused out_is_csv "the checkpoint and the metrics CSV would be the same file (out/m.csv)" \
        train --data en.txt --out out/m.csv "${T[@]}"
    expect_refused out_is_svg "the checkpoint and the loss plot would be the same file (out/m.svg)" \
        train --data en.txt --out out/m.svg "${T[@]}"
    expect_refused out_is_directory "is a directory" train --data en.txt --out d "${T[@]}"
    mkdir -p t
    cp en.txt t/m.safetensors.tmp.77.0
    expect_error data_is_temporary "the temporary files of the checkpoint (t/m.safetensors.tmp.*) could replace" \
        train --data t/m.safetensors.tmp.77.0 --out t/m.safetensors "${T[@]}"
    [ "$(ls t)" = m.safetensors.tmp.77.0 ] && cmp -s t/m.safetensors.tmp.77.0 en.txt || fail "data_is_temporary changed t/"
    note "no output (checkpoint, optimizer state, CSV, SVG, temporaries) may replace --data or --config, by any path"

    # An existing checkpoint is kept: the message says how to continue it, replace it or write elsewhere.
    run_ok long train --data en.txt "${TINY[@]}" --max-iters 12 --eval-interval 6 --out run/model.safetensors
    cp run/model.safetensors keep/model.safetensors
    cp run/model.csv keep/model.csv
    cp run/model.optim.safetensors keep/model.optim.safetensors
    expect_error again "run/model.safetensors exists (step 12); pass --resume run/model.safetensors to continue it, --overwrite to replace it, or --out to write elsewhere" \
        train --data en.txt "${T[@]}" --out run/model.safetensors
    cmp -s run/model.safetensors keep/model.safetensors && cmp -s run/model.csv keep/model.csv ||
        fail "a refused run changed the earlier run's checkpoint or metrics"
    expect_error again_other_out "run/model.safetensors exists (step 12)" \
        train --resume keep/model.safetensors --data en.txt --max-iters 14 --out run/model.safetensors
    note "an existing 12-step checkpoint is not replaced by a new run"
    rm -f run/model.safetensors
    expect_error stale_csv "run/model.csv exists" train --data en.txt "${T[@]}" --out run/model.safetensors
    cp keep/model.safetensors run/model.safetensors
    run_ok resume_in_place train --resume run/model.safetensors --max-iters 14
    run_ok in_place_info info run/model.safetensors
    [ "$(info_field in_place_info.out step)" = 14 ] || { show in_place_info.out; fail "resuming in place did not save step 14"; }
    run_ok overwrite train --data en.txt "${T[@]}" --out run/model.safetensors --overwrite
    run_ok overwritten info run/model.safetensors
    [ "$(info_field overwritten.out step)" = 4 ] || { show overwritten.out; fail "--overwrite did not replace the checkpoint"; }
    note "--resume continues it in place, --overwrite replaces it"
    printf 'overwrite = true\n' >ow.toml
    expect_error overwrite_in_config_file "'overwrite' is not an option a config file can set" \
        train --data en.txt "${T[@]}" --out out/model.safetensors --config ow.toml

    # Two trainers on one checkpoint: the second is refused, naming the first.
    rm -rf shared
    start_background first train --data en.txt "${TINY[@]}" --max-iters 1000000 --eval-interval 1000000 \
        --out shared/model.safetensors
    wait_until "the first trainer's checkpoint" test -f shared/model.safetensors
    local pid=$BACKGROUND_PID
    run second train --data en.txt "${TINY[@]}" --max-iters 10 --out shared/model.safetensors --overwrite
    [ "$RC" -eq 1 ] && grep -qF "shared/model.safetensors is being written by another 'babygpt train' (process $pid)" second.err ||
        { show second.out second.err; fail "a second trainer on the same --out was not refused (exit status $RC)"; }
    run third train --resume shared/model.safetensors --max-iters 1000001
    [ "$RC" -eq 1 ] && grep -qF "is being written by another 'babygpt train'" third.err ||
        { show third.out third.err; fail "a resume of a checkpoint being trained was not refused (exit status $RC)"; }
    note "a second trainer is refused: $(cat second.err)"
    stop_with TERM
    check_stopped first TERM 143 shared/model.safetensors
    run_ok after_first train --resume shared/model.safetensors --max-iters "$(($(info_field first_info.out step) + 2))"
    note "after the first trainer stopped, its checkpoint resumes"
}

# One --threads rule for train and sample: 1 to 256, by default the cores this process may use.
test_threads_range() {
    write_english en.txt
    run_ok ck train --data en.txt "${TINY[@]}" --max-iters 2 --eval-interval 1 --out ck/model.safetensors --threads 1
    expect_error sample_huge "--threads must be between 1 and 256, got 100000" \
        sample ck/model.safetensors --threads 100000 --prompt "the quick"
    expect_error sample_zero "--threads must be between 1 and 256, got 0" sample ck/model.safetensors --threads 0
    expect_error train_huge "--threads must be between 1 and 256, got 2000" \
        train --data en.txt "${TINY[@]}" --max-iters 2 --out out/model.safetensors --threads 2000
    expect_error train_negative "--threads must be between 1 and 256, got -3" \
        train --data en.txt "${TINY[@]}" --max-iters 2 --out out/model.safetensors --threads -3
    run_ok sample_max sample ck/model.safetensors --threads 256 --prompt "the quick" --max-new-tokens 5
    note "--threads outside 1..256 is refused by train and sample; 256 works"

    # The default is the number of cores this process may use (its CPU affinity).
    local cores
    cores=$(nproc)
    run_ok default train --data en.txt "${TINY[@]}" --max-iters 2 --eval-interval 1 --out default/model.safetensors
    local expected="$cores threads"
    [ "$cores" -eq 1 ] && expected="1 thread"
    grep -q "; $expected\$" default.out || { show default.out; fail "the banner does not report the default of $expected (nproc)"; }
    if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null; then
        taskset -c 0 "$BIN" train --data en.txt "${TINY[@]}" --max-iters 2 --eval-interval 1 \
            --out one/model.safetensors >one.out 2>one.err || { show one.out one.err; fail "training under taskset -c 0 failed"; }
        grep -q '; 1 thread$' one.out || { show one.out; fail "under taskset -c 0 the default is not 1 thread"; }
        note "default --threads: $expected here, 1 thread under taskset -c 0"
    else
        note "default --threads: $expected here (taskset not available)"
    fi
    run_ok help train --help
    grep -q -- '--threads.*1 to 256' help.out || { show help.out; fail "train --help does not state the --threads range"; }
}

# Inputs that are not regular files, or far too large, are refused at once (nothing read or blocked on).
test_input_files() {
    write_english en.txt
    mkfifo fifo
    mkdir adir
    truncate -s 3G sparse.bin
    truncate -s 1100M big.txt
    run_ok ck train --data en.txt "${TINY[@]}" --max-iters 2 --eval-interval 1 --out ck/model.safetensors
    local T=("${TINY[@]}" --max-iters 2 --out out/model.safetensors)
    # timeout: a trainer that blocks on the FIFO or reads /dev/zero is a failure, not a hang.
    local BIN_REAL=$BIN
    printf '#!/usr/bin/env bash\nexec timeout 20 "%s" "$@"\n' "$BIN_REAL" >bounded
    chmod +x bounded
    BIN=$PWD/bounded
    expect_error data_zero "/dev/zero: is a character device, not a regular file" train --data /dev/zero "${T[@]}"
    expect_error data_fifo "fifo: is a FIFO (named pipe), not a regular file" train --data fifo "${T[@]}"
    expect_error data_dir "adir: is a directory" train --data adir "${T[@]}"
    expect_error data_big "big.txt: the file has 1.1 GiB, more than the 1.0 GiB limit for --data" train --data big.txt "${T[@]}"
    expect_error data_sparse "the file has 3.0 GiB, more than the 1.0 GiB limit for --data" train --data sparse.bin "${T[@]}"
    expect_error config_zero "/dev/zero: is a character device" train --data en.txt --config /dev/zero "${T[@]}"
    expect_error config_dir "adir: is a directory" train --data en.txt --config adir "${T[@]}"
    expect_error config_fifo "fifo: is a FIFO" train --data en.txt --config fifo "${T[@]}"
    head -c 2000000 /dev/zero | tr '\0' '#' >huge.toml
    expect_error config_huge "more than the 1.0 MiB limit for --config" train --data en.txt --config huge.toml "${T[@]}"
    expect_error resume_fifo "fifo: is a FIFO" train --resume fifo --max-iters 4 --out out/model.safetensors
    expect_error resume_zero "/dev/zero: is a character device" train --resume /dev/zero --max-iters 4 --out out/model.safetensors
    expect_error resume_sparse "is this a safetensors file" train --resume sparse.bin --max-iters 4 --out out/model.safetensors
    expect_error resume_dir "adir: is a directory" train --resume adir --max-iters 4 --out out/model.safetensors
    local start
    start=$(now_ms)
    expect_error info_sparse "is this a safetensors file" info sparse.bin
    [ $(($(now_ms) - start)) -lt 3000 ] || fail "info on a 3 GB file took $(($(now_ms) - start)) ms: it read the file"
    expect_error info_big_text "is this a safetensors file" info big.txt
    expect_error info_fifo "fifo: is a FIFO" info fifo
    expect_error info_zero "/dev/zero: is a character device" info /dev/zero
    expect_error info_dir "adir: is a directory" info adir
    expect_error sample_fifo "fifo: is a FIFO" sample --checkpoint fifo
    expect_error sample_sparse "is this a safetensors file" sample sparse.bin
    BIN=$BIN_REAL
    note "FIFOs, devices, directories and oversized files are refused for --data, --config, --resume and checkpoints"
}

# Running out of memory ends with one error line naming what was being done and what to change.
test_out_of_memory() {
    write_english en.txt
    local limit=800000  # KiB of address space: enough to start, not for the models below
    (ulimit -v "$limit" && "$BIN" train --data en.txt --n-embed 16384 --n-head 1 --n-layer 1 --max-iters 2 \
        --out out/model.safetensors --threads 1 >model.out 2>model.err)
    RC=$?
    [ "$RC" -eq 1 ] && [ "$(line_count model.err)" -eq 1 ] &&
        grep -q '^error: out of memory.*(while building the model); try a smaller' model.err ||
        { show model.out model.err; fail "a model too large for memory: exit status $RC"; }
    [ -e out ] && { ls -laR out >&2; fail "a failed run left out/"; }
    note "$(cat model.err)"
    (ulimit -v "$limit" && "$BIN" train --data en.txt --batch-size 200000 --block-size 16 --n-embed 32 --n-head 4 \
        --n-layer 2 --max-iters 2 --out out/model.safetensors --threads 1 >batch.out 2>batch.err)
    RC=$?
    [ "$RC" -eq 1 ] && [ "$(line_count batch.err)" -eq 1 ] &&
        grep -q '^error: out of memory.*(while [a-z ]*); try a smaller --batch-size' batch.err ||
        { show batch.out batch.err; fail "a batch too large for memory: exit status $RC"; }
    note "$(cat batch.err)"
}

# On a terminal, long phases show progress; the first line comes at once, even for the v11 preset.
test_progress() {
    write_english en.txt
    # `script` runs the trainer on a pseudo-terminal; its output keeps the carriage returns.
    command -v script >/dev/null || { note "script (util-linux) not available; skipped"; return 0; }
    local args="train --data en.txt --batch-size 8 --block-size 16 --n-embed 32 --n-head 4 --n-layer 2"
    args+=" --sample-tokens 0 --max-iters 200 --eval-interval 50 --threads 1"
    script -qec "'$BIN' $args --eval-iters 3000 --out heavy/model.safetensors" /dev/null >heavy.tty 2>&1 ||
        { show heavy.tty; fail "training on a terminal failed"; }
    tr '\r' '\n' <heavy.tty >heavy.lines
    grep -q '^.*evaluating step 0: train [0-9]*/3000 batches' heavy.lines ||
        { show heavy.lines; fail "no 'evaluating step 0: train i/3000 batches' progress on a terminal"; }
    grep -q 'evaluating step 50: val [0-9]*/3000 batches' heavy.lines ||
        { show heavy.lines; fail "no progress of the validation half of an evaluation"; }
    note "evaluation progress is shown on a terminal: $(grep -o 'evaluating step 0: train [0-9]*/3000 batches' heavy.lines | tail -n 1)"

    # The ETA counts the evaluations still to come: with 3000 batches per split they dominate the run.
    script -qec "'$BIN' $args --eval-iters 1 --out light/model.safetensors" /dev/null >light.tty 2>&1 ||
        { show light.tty; fail "training on a terminal failed"; }
    tr '\r' '\n' <light.tty >light.lines
    eta_seconds() { grep -o 'ETA [0-9:]*' "$1" | head -n 1 | awk '{ n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }'; }
    local heavy_eta light_eta
    heavy_eta=$(eta_seconds heavy.lines)
    light_eta=$(eta_seconds light.lines)
    [ -n "$heavy_eta" ] && [ -n "$light_eta" ] || { show heavy.lines light.lines; fail "no ETA in the progress line"; }
    [ "$heavy_eta" -ge $((light_eta + 2)) ] ||
        fail "the first ETA with 4 evaluations of 6000 batches to come is ${heavy_eta}s, with 1-batch evaluations ${light_eta}s"
    note "first ETA: ${heavy_eta}s with slow evaluations to come, ${light_eta}s without"

    # The first line of the big preset comes within 2 s (before its first, long evaluation), and SIGINT
    # during that evaluation saves and exits.
    local start
    start=$(now_ms)
    start_background v11 train --preset v11 --data en.txt --max-iters 10 --sample-tokens 0 --threads 1 \
        --out v11/model.safetensors
    wait_until "the v11 banner" grep -qs '^babygpt: ' v11.out
    local first=$(($(now_ms) - start))
    [ "$first" -lt 2000 ] || { show v11.out; fail "the first line of --preset v11 came after $first ms"; }
    note "--preset v11: first line after $first ms"
    sleep 1
    stop_with INT
    [ "$RC" -eq 130 ] || { show v11.out v11.err; fail "SIGINT during the v11 evaluation: exit status $RC"; }
    grep -q 'SIGINT during the evaluation' v11.out || { show v11.out; fail "the v11 run was not stopped during its evaluation"; }
    compgen -G 'v11/*.tmp.*' >/dev/null && { ls -la v11 >&2; fail "temporary files left"; }
    run_ok v11_info info v11/model.safetensors
    note "SIGINT during the v11 step-0 evaluation: saved and exited after $STOP_MS ms (most of it writing 140 MB)"
}

# Command-line manners: the checkpoint as a plain argument, a helpful message without one, and help
# text that says "preset default" once rather than on every line.
test_cli_manners() {
    write_english en.txt
    run_ok ck train --data en.txt "${TINY[@]}" --max-iters 2 --eval-interval 1 --out ck/model.safetensors
    run_ok info_positional info ck/model.safetensors
    run_ok info_option info --checkpoint ck/model.safetensors
    cmp -s info_positional.out info_option.out || { show info_positional.out info_option.out; fail "info FILE differs from info --checkpoint FILE"; }
    run_ok sample_positional sample ck/model.safetensors --prompt "the " --seed 3 --max-new-tokens 20
    run_ok sample_option sample --checkpoint ck/model.safetensors --prompt "the " --seed 3 --max-new-tokens 20
    cmp -s sample_positional.out sample_option.out || fail "sample FILE differs from sample --checkpoint FILE"
    run_ok sample_after sample --prompt "the " --seed 3 --max-new-tokens 20 ck/model.safetensors
    cmp -s sample_positional.out sample_after.out || fail "sample --prompt X FILE differs from sample FILE --prompt X"
    run_ok two_prompts sample ck/model.safetensors --prompt "the " --prompt "a " --max-new-tokens 3
    [ "$(line_count two_prompts.out)" -eq 3 ] || { show two_prompts.out; fail "two --prompt options did not give two samples"; }
    note "info FILE and sample FILE work as --checkpoint FILE does"
    expect_error info_nothing "pass the checkpoint file: babygpt info runs/x.safetensors" info
    expect_error sample_nothing "pass the checkpoint file: babygpt sample runs/x.safetensors" sample --prompt "the "
    expect_error info_two "two checkpoints given" info ck/model.safetensors --checkpoint other.safetensors
    run_ok train_help train --help
    local repeated
    repeated=$(grep -c 'preset default' train_help.out)
    [ "$repeated" -le 1 ] || { show train_help.out; fail "train --help says 'preset default' on $repeated lines"; }
    grep -q "preset's" train_help.out || { show train_help.out; fail "train --help does not say once that defaults are the preset's"; }
    grep -q -- '--overwrite' train_help.out || { show train_help.out; fail "train --help does not list --overwrite"; }
    note "help: the preset note once, --overwrite listed"
}

# craft <in> <out> <kind>: a copy of checkpoint <in> with its header changed as an attacker would
# (needs python3, only to rewrite the JSON header and its 8-byte length).
craft() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, struct, sys
src, dst, kind = sys.argv[1:4]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
meta = header["__metadata__"]
deep = "[" * 80000 + "]" * 80000
text = None
if kind == "huge_embed":
    meta["n_embed"], meta["n_head"] = str(2 ** 62), "1"
elif kind == "many_layers":
    meta["n_layer"] = "100000"
elif kind == "deep_metadata":
    text = json.dumps(header).replace('"n_layer": "%s"' % meta["n_layer"], '"n_layer": ' + deep)
elif kind == "deep_dtype":
    name = next(k for k in header if k != "__metadata__")
    text = json.dumps(header).replace(json.dumps(name) + ': {"dtype": "F32"', json.dumps(name) + ': {"dtype": ' + deep, 1)
elif kind == "deep_shape":
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = "SHAPE"
    text = json.dumps(header).replace('"SHAPE"', deep)
elif kind == "zero_size_tensors":
    for i in range(40000):
        header["extra.%d" % i] = {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}
else:
    sys.exit("unknown kind " + kind)
text = (text or json.dumps(header)).encode()
text += b" " * ((8 - len(text) % 8) % 8)
open(dst, "wb").write(struct.pack("<Q", len(text)) + text + data)
PY
}

# expect_fast_error <name> <phrase> <args...>: expect_error, within 3 seconds.
expect_fast_error() {
    local start=$SECONDS
    expect_error "$@"
    [ $((SECONDS - start)) -le 3 ] || fail "'babygpt ${*:3}' took $((SECONDS - start)) s to refuse (limit 3 s)"
}

test_hostile_checkpoints() {
    command -v python3 >/dev/null || { echo "SKIPPED: python3 is needed to craft the checkpoints"; return 0; }
    write_english en.txt
    run_ok train train --data en.txt "${TINY[@]}" --max-iters 4 --eval-interval 2 --out ck/model.safetensors
    local kind before phrase
    for kind in huge_embed many_layers deep_metadata deep_dtype deep_shape zero_size_tensors; do
        craft ck/model.safetensors "$kind.safetensors" "$kind" || fail "could not craft $kind"
        before=$(cksum <"$kind.safetensors")
        case $kind in
            huge_embed) phrase="n_embed" ;;
            many_layers) phrase="n_layer" ;;
            deep_*) phrase="deep" ;;
            zero_size_tensors) phrase="extra." ;;
        esac
        expect_fast_error "info_$kind" "$phrase" info "$kind.safetensors"
        expect_fast_error "sample_$kind" "$phrase" sample "$kind.safetensors" --max-new-tokens 5
        expect_fast_error "resume_$kind" "$phrase" train --resume "$kind.safetensors" --max-iters 10 --out out/x.safetensors
        [ "$(cksum <"$kind.safetensors")" = "$before" ] || fail "$kind.safetensors was changed"
        [ "$(line_count "info_$kind.err")" -eq 1 ] && [ "$(wc -c <"info_$kind.err")" -lt 2000 ] ||
            fail "the error for $kind is not one short line: $(wc -c <"info_$kind.err") bytes"
    done
    local small=(--data en.txt --batch-size 8 --block-size 16 --eval-iters 3 --sample-tokens 0 --out out/x.safetensors)
    expect_fast_error train_huge_embed "n_embed" train "${small[@]}" --n-embed 4611686018427387904 --n-head 1
    expect_fast_error train_many_layers "n_layer" train "${small[@]}" --n-layer 100000
    ls ./*.tmp.* ck/*.tmp.* >/dev/null 2>&1 && fail "temporary files were left behind"
    note "hostile checkpoints: each refused in one line within 3 s, nothing changed"
}

# A vocabulary whose smallest character is U+FEFF (written as EF BB BF first in the checkpoint's
# vocabulary string) must load again: only a corpus file may start with a byte order mark.
test_vocabulary_feff() {
    local i
    : >feff.txt
    for i in $(seq 1 70); do  # no newline: every other character (fullwidth ＡＢＣＤＥ) is above U+FEFF
        printf '\xef\xbc\xa1\xef\xbc\xa2\xef\xbb\xbf\xef\xbc\xa3\xef\xbc\xa4\xef\xbc\xa5' >>feff.txt
    done
    run_ok train train --data feff.txt "${TINY[@]}" --max-iters 4 --eval-interval 2 --out ck/model.safetensors
    grep -q 'vocabulary 6' train.out || { show train.out; fail "expected a 6-character vocabulary (U+FEFF included)"; }
    run_ok info info ck/model.safetensors
    grep -q '^vocab size: *6$' info.out || { show info.out; fail "info does not show the 6-character vocabulary"; }
    run_ok sample sample ck/model.safetensors --prompt "$(printf '\xef\xbb\xbf')" --max-new-tokens 5
    run_ok resume train --resume ck/model.safetensors --max-iters 6 --sample-tokens 5
    # A byte order mark at the start of a corpus file is not a character.
    { printf '\xef\xbb\xbf'; cat feff.txt; } >bom.txt
    run_ok bom train --data bom.txt "${TINY[@]}" --max-iters 2 --eval-interval 1 --out ck2/model.safetensors
    grep -q 'vocabulary 6' bom.out || { show bom.out; fail "a leading byte order mark changed the vocabulary"; }
    note "U+FEFF as a character round-trips through the checkpoint (info, sample, resume)"
}

# check_plot_svg <svg>: well-formed, and no attribute value (a coordinate) holds nan or inf.
check_plot_svg() {
    local svg=$1
    if command -v xmllint >/dev/null 2>&1; then
        xmllint --noout "$svg" 2>xmllint.err || { show xmllint.err; fail "$svg is not well-formed XML"; }
    else
        [ "$(head -c 4 "$svg")" = "<svg" ] && [ "$(tail -n 1 "$svg")" = "</svg>" ] ||
            { show "$svg"; fail "$svg does not start with <svg and end with </svg>"; }
        [ "$(tr -cd '<' <"$svg" | wc -c)" = "$(tr -cd '>' <"$svg" | wc -c)" ] ||
            { show "$svg"; fail "$svg has unbalanced < and >"; }
    fi
    grep -Eiq '="[^"]*(nan|inf)[^"]*"' "$svg" && { show "$svg"; fail "$svg has nan or inf in an attribute"; }
    return 0
}

# The loss plot: a title naming the corpus (escaped), the preset and the parameter count, round tick
# labels, and a tokens/s panel; one evaluation only still gives a valid picture.
test_plot() {
    write_english 'notes&tales.txt'
    run_ok train train --data 'notes&tales.txt' --out run/model.safetensors "${TINY[@]}" --max-iters 50 \
        --eval-interval 10
    local svg=run/model.svg
    check_plot_svg "$svg"
    note "the SVG is well-formed, with no nan or inf in its coordinates"

    local millions parameters
    millions=$(sed -n 's/^babygpt: .* \([0-9.]*\) M parameters;.*/\1/p' train.out)
    [ -n "$millions" ] || { show train.out; fail "no parameter count in the training header"; }
    parameters=$(awk -v m="$millions" 'BEGIN { n = sprintf("%.0f", m * 1e6); s = "";
        while (length(n) > 3) { s = "," substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3) } print n s }')
    local title="BabyGPT on notes&amp;tales.txt: preset v9, $parameters parameters"
    grep -qF ">$title</text>" "$svg" || { show "$svg"; fail "no title '$title'"; }
    note "title: $title"

    grep -q '>tokens/s</text>' "$svg" || { show "$svg"; fail "no tokens/s panel"; }
    grep -Eq '<path d="M[0-9.]+,[0-9.]+ L[0-9.]+,[0-9.]+' "$svg" ||
        { show "$svg"; fail "the tokens/s panel has no line (evaluations after step 0 measure a speed)"; }
    note "tokens/s panel with a line"

    local labels
    labels=$(grep -o '>-\{0,1\}[0-9][0-9.]*</text>' "$svg" | sed 's/^>//; s/<\/text>$//')
    [ "$(echo "$labels" | wc -l | tr -d ' ')" -ge 8 ] || { show "$svg"; fail "fewer than 8 tick labels"; }
    echo "$labels" | grep -Eq '\.[0-9]{4,}$' && { show "$svg"; fail "a tick label has more than 3 decimals: $(echo $labels)"; }
    # Steps 0..49: round ticks 0, 10, ..., 50, not the last step 49 nor fractions of the range.
    echo "$labels" | grep -qx '49' && { show "$svg"; fail "the step axis is labelled with the last step 49, not a round tick"; }
    echo "$labels" | grep -qx '50' || { show "$svg"; fail "the step axis does not reach the round tick 50"; }
    note "tick labels round, at most 3 decimals: $(echo $labels)"

    run_ok one train --data 'notes&tales.txt' --out one/model.safetensors "${TINY[@]}" --max-iters 1
    check_plot_svg one/model.svg
    grep -q '>tokens/s</text>' one/model.svg || { show one/model.svg; fail "no tokens/s panel after one evaluation"; }
    note "a run with a single evaluation gives a valid SVG"
}

# --norm: post and none train, are saved and shown by info, are kept by --resume and cannot change
# there; a placement that does not exist is one clear error.
test_norm() {
    write_english en.txt
    local placement
    for placement in post none; do
        run_ok "$placement" train --data en.txt "${TINY_MODEL[@]}" --max-iters 20 --eval-interval 10 --norm "$placement" \
            --sample-tokens 20 --out "$placement/model.safetensors"
        check_step_format "$placement.out"
        run_ok "info_$placement" info "$placement/model.safetensors"
        grep -q "norm $placement\$" "info_$placement.out" || { show "info_$placement.out"; fail "info does not show norm $placement"; }
        run_ok "resume_$placement" train --resume "$placement/model.safetensors" --max-iters 30 --sample-tokens 0
        grep -q 'resuming at step 20' "resume_$placement.out" || { show "resume_$placement.out"; fail "no resume"; }
        run_ok "info_resumed_$placement" info "$placement/model.safetensors"
        grep -q "norm $placement\$" "info_resumed_$placement.out" || { show "info_resumed_$placement.out"; fail "resume lost norm"; }
        run_ok "sample_$placement" sample "$placement/model.safetensors" --max-new-tokens 30 --seed 3
    done
    note "norm post and none train, resume and sample; info shows the placement"
    run_ok pre train --data en.txt "${TINY[@]}" --max-iters 10 --eval-interval 10 --out pre/model.safetensors
    run_ok info_pre info pre/model.safetensors
    ! grep -q "norm" info_pre.out || { show info_pre.out; fail "info shows the default placement"; }
    # Different placements are different models: the same seed gives different losses.
    [ "$(losses_only post.out | head -n 1)" != "$(losses_only none.out | head -n 1)" ] ||
        { show post.out none.out; fail "post and none print the same first losses"; }
    expect_error bad_norm "unknown LayerNorm placement 'sideways'; choose pre, post or none" \
        train --data en.txt "${TINY[@]}" --max-iters 5 --norm sideways --out out/model.safetensors
    expect_error resume_norm "--norm post differs from the checkpoint's none" \
        train --resume none/model.safetensors --max-iters 40 --norm post
}

# --log-stats: one row per block at every evaluation, numbers everywhere, the same losses as without
# the flag, and a resumed run continues the file as the uninterrupted run writes it.
test_log_stats() {
    write_english en.txt
    local common=(--data en.txt "${TINY[@]}" --eval-interval 10)
    run_ok plain train "${common[@]}" --max-iters 20 --out plain/model.safetensors
    run_ok logged train "${common[@]}" --max-iters 20 --log-stats --out logged/model.safetensors
    local csv=logged/model.stats.csv
    [ -f "$csv" ] || { show logged.out; fail "no $csv"; }
    [ ! -e plain/model.stats.csv ] || fail "a run without --log-stats wrote block statistics"
    [ "$(head -n 1 "$csv")" = "step,block,input_mean,input_std,attention_mean,attention_std,feed_forward_mean,feed_forward_std,output_mean,output_std,grad_norm" ] ||
        { show "$csv"; fail "unexpected header"; }
    # Evaluations at steps 0, 10 and 19, two blocks each.
    [ "$(tail -n +2 "$csv" | cut -d, -f1,2 | tr '\n' ' ')" = "0,0 0,1 10,0 10,1 19,0 19,1 " ] ||
        { show "$csv"; fail "expected rows for steps 0, 10, 19 and blocks 0, 1"; }
    tail -n +2 "$csv" | awk -F, '{ for (i = 3; i <= NF; ++i) if ($i !~ /^-?[0-9.]+(e-?[0-9]+)?$/) exit 1;
                                    if ($4 <= 0 || $10 <= 0 || $11 <= 0) exit 1 }' ||
        { show "$csv"; fail "a value is not a number, or a standard deviation or gradient norm is not positive"; }
    [ "$(losses_only plain.out)" = "$(losses_only logged.out)" ] || { show plain.out logged.out; fail "--log-stats changed the losses"; }
    note "--log-stats: $(($(line_count "$csv") - 1)) rows; the losses are those of the run without it"

    run_ok first train "${common[@]}" --max-iters 10 --log-stats --out split/model.safetensors
    run_ok rest train --resume split/model.safetensors --max-iters 20 --log-stats --sample-tokens 0
    # The first part's last step (9) evaluates too; every other row is the uninterrupted run's.
    [ "$(grep -v '^9,' split/model.stats.csv)" = "$(cat "$csv")" ] ||
        { show "$csv" split/model.stats.csv; fail "the resumed run's statistics differ"; }
    note "a resumed run's statistics equal the uninterrupted run's (plus the first part's last step)"
    run ow train "${common[@]}" --max-iters 20 --out logged/model.safetensors --log-stats
    [ "$RC" -ne 0 ] && grep -q "exists" ow.err || { show ow.out ow.err; fail "an earlier run's files were not protected"; }
}

# --activation-checkpointing recomputes each block in backward: the same training (dropout included),
# and resumable either way.
test_activation_checkpointing() {
    write_english en.txt
    local common=(--data en.txt "${TINY[@]}" --eval-interval 10 --dropout 0.1)
    run_ok plain train "${common[@]}" --max-iters 30 --out plain/model.safetensors
    run_ok recomputed train "${common[@]}" --max-iters 30 --activation-checkpointing --out recomputed/model.safetensors
    check_step_format recomputed.out
    [ "$(losses_only plain.out)" = "$(losses_only recomputed.out)" ] ||
        { show plain.out recomputed.out; fail "--activation-checkpointing changed the losses"; }
    note "--activation-checkpointing: the losses of the run without it ($(losses_only recomputed.out | tail -n 1))"
    run_ok first train "${common[@]}" --max-iters 15 --activation-checkpointing --out split/model.safetensors
    run_ok rest train --resume split/model.safetensors --max-iters 30
    [ "$(losses_only rest.out)" = "$(losses_only plain.out | awk '$2 + 0 >= 15')" ] ||
        { show plain.out rest.out; fail "a run resumed without the flag differs from the uninterrupted one"; }
    note "a checkpointed run resumed without the flag continues the same run"
}

# --dtype bf16 trains with the linear layers' products in bf16: close to the float32 run, not equal to it,
# float32 checkpoints that resume in either dtype. Where bf16 products cannot run (babygpt built without
# oneDNN, a CPU without AVX512-BF16), one error line saying why, before anything is written.
test_dtype() {
    write_english en.txt
    local common=(--data en.txt "${TINY[@]}" --eval-interval 20)
    expect_parse_error fp16 train "${common[@]}" --dtype fp16 --out out/model.safetensors
    run bf16 train "${common[@]}" --max-iters 60 --dtype bf16 --out bf16/model.safetensors
    if [ "$RC" -ne 0 ]; then
        expect_error unavailable "--dtype bf16: " train "${common[@]}" --max-iters 60 --dtype bf16 --out out/model.safetensors
        grep -qF -- "--dtype fp32" unavailable.err || { show unavailable.err; fail "the error does not name --dtype fp32"; }
        note "bf16 products are not available in this build or on this CPU; the error says so"
        return
    fi
    run_ok fp32 train "${common[@]}" --max-iters 60 --out fp32/model.safetensors
    check_step_format bf16.out
    grep -q '; bf16 products' bf16.out || { show bf16.out; fail "the first line does not say bf16 products are on"; }
    ! grep -q 'bf16' fp32.out || { show fp32.out; fail "a float32 run mentions bf16"; }
    [ "$(losses_only fp32.out)" != "$(losses_only bf16.out)" ] || fail "--dtype bf16 printed the float32 losses exactly"
    # every evaluated loss within 0.05 of the float32 run's, and the loss went down
    paste <(losses_only fp32.out) <(losses_only bf16.out) | awk '
        { sub(",", "", $5); sub(",", "", $13); d1 = $5 - $13; d2 = $8 - $16
          if (d1 < -0.05 || d1 > 0.05 || d2 < -0.05 || d2 > 0.05) { print "differ: " $0; bad = 1 } }
        END { exit bad }' || { show fp32.out bf16.out; fail "bf16 losses are more than 0.05 from float32's"; }
    local first last
    first=$(losses_only bf16.out | head -n 1 | sed 's/.*val loss //')
    last=$(losses_only bf16.out | tail -n 1 | sed 's/.*val loss //')
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 0.3) }' || { show bf16.out; fail "bf16 training did not learn"; }
    note "--dtype bf16: losses within 0.05 of float32 ($(losses_only bf16.out | tail -n 1))"
    run_ok info info bf16/model.safetensors
    run_ok rest train --resume bf16/model.safetensors --max-iters 80 --dtype fp32
    [ "$(printed_steps rest.out | awk '{ print $NF }')" = "79" ] || { show rest.out; fail "the bf16 run did not resume in float32"; }
    note "a bf16 run's checkpoint resumes in float32"
    # big enough products for oneDNN to split them across threads: the same losses with 1 and 2
    local wide=(--data en.txt --batch-size 16 --block-size 64 --n-embed 128 --n-head 4 --n-layer 2 --eval-iters 2
        --max-iters 10 --eval-interval 3 --sample-tokens 0 --dtype bf16)
    run_ok one_thread train "${wide[@]}" --threads 1 --out one/model.safetensors
    run_ok two_threads train "${wide[@]}" --threads 2 --out two/model.safetensors
    [ "$(losses_only one_thread.out)" = "$(losses_only two_threads.out)" ] ||
        { show one_thread.out two_threads.out; fail "--dtype bf16 gave different losses with 1 and 2 threads"; }
    note "--dtype bf16: the same losses with 1 and 2 threads ($(losses_only two_threads.out | tail -n 1))"
}

# ---- main --------------------------------------------------------------------------------------------

if ! declare -F "test_$CASE" >/dev/null; then
    echo "unknown case '$CASE'; cases: $(declare -F | sed -n 's/^declare -f test_//p' | tr '\n' ' ')" >&2
    exit 2
fi
case "$BIN_ARG" in
    /*) BIN=$BIN_ARG ;;
    *) BIN=$(pwd)/$BIN_ARG ;;
esac
[ -x "$BIN" ] || { echo "not an executable: $BIN" >&2; exit 2; }
[ -n "$SCRATCH" ] || { echo "empty scratch directory" >&2; exit 2; }
WORK=$SCRATCH/work
rm -rf "$WORK"
mkdir -p "$WORK" || exit 2
cd "$WORK" || exit 2

SECONDS=0
"test_$CASE"
echo "PASS [$CASE] in ${SECONDS}s"
