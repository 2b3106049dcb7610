#!/usr/bin/env bash
# Download the two classic corpora into data/downloads/ (needs network access).
#
#   data/download.sh [tinyshakespeare|songci|all]      (default: all)
#   data/download.sh convert-songci OUT.txt IN.json... (offline: convert JSON files you already have)
#
# Requires curl or wget, and python3 for songci.
# Every output is written under a temporary name and renamed only when it is
# complete, so an interrupted run never leaves a half-written corpus behind.
set -euo pipefail

SHAKESPEARE_URL="${BABYGPT_SHAKESPEARE_URL:-https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt}"
# The 宋词 folder of https://github.com/chinese-poetry/chinese-poetry (URL-encoded).
SONGCI_BASE_URL="${BABYGPT_SONGCI_BASE_URL:-https://raw.githubusercontent.com/chinese-poetry/chinese-poetry/master/%E5%AE%8B%E8%AF%8D}"
SONGCI_FIRST=0
SONGCI_LAST=21000
SONGCI_STEP=1000

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT_DIR="${BABYGPT_DOWNLOAD_DIR:-$SCRIPT_DIR/downloads}"

usage() {
    cat <<USAGE
usage: $(basename "$0") [tinyshakespeare|songci|all]
       $(basename "$0") convert-songci OUT.txt IN.json...

  tinyshakespeare  download the char-rnn tiny shakespeare text -> tinyshakespeare.txt
  songci           download chinese-poetry 宋词 ci.song.{0..21000}.json and build songci.txt
  all              both (default)
  convert-songci   only convert local chinese-poetry JSON files (no network)

Output directory: $OUT_DIR
(override with BABYGPT_DOWNLOAD_DIR; the download itself needs network access)
USAGE
}

# ------------------------------------------------------------------ cleanup
TMP_PATHS=()
cleanup() {
    local p
    for p in "${TMP_PATHS[@]+"${TMP_PATHS[@]}"}"; do
        rm -rf -- "$p"
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ helpers
fetch() {  # fetch URL DEST
    local url="$1" dest="$2"
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 5 --retry-delay 2 --connect-timeout 20 -o "$dest" "$url"
    elif command -v wget >/dev/null 2>&1; then
        wget -q --tries=5 --waitretry=2 --timeout=20 -O "$dest" "$url"
    else
        echo "error: neither curl nor wget is installed" >&2
        return 1
    fi
}

need_python() {
    if ! command -v python3 >/dev/null 2>&1; then
        echo "error: python3 is needed to build songci.txt" >&2
        exit 1
    fi
}

# Convert chinese-poetry JSON files, in the order given, to plain text:
#   <rhythmic> <author>
#   <paragraph 1>
#   <paragraph 2>
#   ...
#   <blank line between poems>
# The result is written to OUT.part and renamed to OUT when complete.
convert_songci() {  # convert_songci OUT IN.json...
    need_python
    local out="$1"
    shift
    TMP_PATHS+=("$out.part")
    python3 - "$out.part" "$@" <<'PY'
import json
import sys

out_path, inputs = sys.argv[1], sys.argv[2:]
blocks = []
for path in inputs:
    with open(path, encoding="utf-8") as f:
        poems = json.load(f)
    for poem in poems:
        header = "%s %s" % (poem.get("rhythmic", "").strip(), poem.get("author", "").strip())
        lines = [header]
        for p in poem.get("paragraphs", []):
            p = p.strip()
            if p:  # an empty line would look like the end of the poem
                lines.append(p)
        blocks.append("\n".join(lines))
with open(out_path, "w", encoding="utf-8", newline="\n") as f:
    if blocks:
        f.write("\n\n".join(blocks))
        f.write("\n")
print("converted %d poems from %d file(s)" % (len(blocks), len(inputs)))
PY
    mv -f -- "$out.part" "$out"
}

report() {  # report FILE...
    local f
    for f in "$@"; do
        [ -f "$f" ] || continue
        if command -v python3 >/dev/null 2>&1; then
            python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
t = open(p, encoding="utf-8").read()
print("  %s: %d bytes, %d characters, %d distinct characters"
      % (p, len(t.encode("utf-8")), len(t), len(set(t))))
PY
        else
            echo "  $f: $(wc -c <"$f") bytes, $(wc -m <"$f") characters"
        fi
    done
}

# ------------------------------------------------------------------ corpora
get_tinyshakespeare() {
    local dest="$OUT_DIR/tinyshakespeare.txt"
    echo "downloading tiny shakespeare ..."
    TMP_PATHS+=("$dest.part")
    fetch "$SHAKESPEARE_URL" "$dest.part"
    mv -f -- "$dest.part" "$dest"
}

get_songci() {
    need_python
    local dest="$OUT_DIR/songci.txt"
    local tmpdir n
    tmpdir="$(mktemp -d "$OUT_DIR/.songci.XXXXXX")"
    TMP_PATHS+=("$tmpdir")
    local files=()
    for ((n = SONGCI_FIRST; n <= SONGCI_LAST; n += SONGCI_STEP)); do
        echo "downloading ci.song.$n.json ..."
        fetch "$SONGCI_BASE_URL/ci.song.$n.json" "$tmpdir/ci.song.$n.json"
        files+=("$tmpdir/ci.song.$n.json")
    done
    convert_songci "$tmpdir/songci.txt" "${files[@]}"
    mv -f -- "$tmpdir/songci.txt" "$dest"
}

# ------------------------------------------------------------------ main
target="${1:-all}"
case "$target" in
    -h|--help|help)
        usage
        exit 0
        ;;
    convert-songci)
        if [ "$#" -lt 3 ]; then
            echo "error: convert-songci needs OUT.txt and at least one IN.json" >&2
            usage >&2
            exit 2
        fi
        shift
        out="$1"
        shift
        convert_songci "$out" "$@"
        report "$out"
        exit 0
        ;;
    tinyshakespeare|songci|all)
        if [ "$#" -gt 1 ]; then
            echo "error: too many arguments" >&2
            usage >&2
            exit 2
        fi
        ;;
    *)
        echo "error: unknown corpus '$target'" >&2
        usage >&2
        exit 2
        ;;
esac

mkdir -p "$OUT_DIR"
done_files=()
if [ "$target" = tinyshakespeare ] || [ "$target" = all ]; then
    get_tinyshakespeare
    done_files+=("$OUT_DIR/tinyshakespeare.txt")
fi
if [ "$target" = songci ] || [ "$target" = all ]; then
    get_songci
    done_files+=("$OUT_DIR/songci.txt")
fi

echo "done:"
report "${done_files[@]}"
