#!/usr/bin/env bash
# tools/record_transcripts.py end to end, on small corpora written here: it must run every README
# transcript's commands with the trainer and put their real output between the markers of a copy of
# the README, with the line naming the commit and the machine.
#
#   bash tests/docs/record_transcripts_test.sh <repository root> <trainer build directory> <scratch directory>
set -euo pipefail
root=${1:?usage: record_transcripts_test.sh ROOT BUILD_DIR SCRATCH}
build_dir=${2:?}
scratch=${3:?}
rm -rf "$scratch" && mkdir -p "$scratch/data"

# Stand-ins for the two downloads: English from the shipped corpus, and lines of Chinese characters
# that include the prompts' characters (春江, 往事), so both transcripts sample as the real ones do.
head -c 20000 "$root/data/default.txt" > "$scratch/data/tinyshakespeare.txt"
python3 - "$scratch/data/songci.txt" <<'PY'
import random, sys
random.seed(3)
chars = [chr(0x4E00 + i) for i in range(0, 4000, 37)] + list("春江往事，。")
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for _ in range(600):
        f.write("".join(random.choice(chars) for _ in range(random.randint(6, 14))) + "。\n")
PY
cp "$root/README.md" "$scratch/README.md"

python3 "$root/tools/record_transcripts.py" --build-dir "$build_dir" --data-dir "$scratch/data" \
    --readme "$scratch/README.md"

fail() { echo "FAIL: $*" >&2; exit 1; }
readme="$scratch/README.md"
[ "$(grep -c '^<sub>Recorded by `tools/record_transcripts.py` on .* at commit .*core' "$readme")" -eq 4 ] ||
    fail "expected 4 'Recorded by' lines naming the commit and the machine"
grep -qx 'babygpt: data/downloads/tinyshakespeare.txt, 20000 characters, .*' "$readme" ||
    fail "the tinyshakespeare transcript lacks the trainer's banner for the 20000-character stand-in"
grep -q '^step 4999: train loss ' "$readme" || fail "no last evaluation line"
grep -qx '\.\.\.' "$readme" || fail "the training log was not shortened"
grep -q '^--- sample (prompt "春江") ---$' "$readme" || fail "the songci transcript did not sample from 春江"
grep -q '^error: prompt "春江": ' "$readme" || fail "the sample transcript lacks the unknown-character error"
grep -q '^vocab size: ' "$readme" || fail "the info transcript is missing"
python3 "$root/tools/record_transcripts.py" --check --readme "$readme" || fail "the re-recorded README fails --check"
# Outside the transcripts, nothing changed.
strip() { sed '/^<!-- transcript: /,/^<!-- \/transcript -->/d' "$1"; }
diff <(strip "$root/README.md") <(strip "$readme") >/dev/null || fail "text outside the transcripts changed"
echo "ok: 4 transcripts recorded"
