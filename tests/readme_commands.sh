#!/usr/bin/env bash
# The README's two commands must be exactly what CI runs: every command line that follows a
# "# README command N" comment in .ci/run must appear, verbatim, as a line of README.md.
#
#   bash tests/readme_commands.sh <repository root>
set -u
root=${1:?usage: bash tests/readme_commands.sh <repository root>}
ci="$root/.ci/run"
readme="$root/README.md"
[ -f "$ci" ] || { echo "FAIL: $ci is missing" >&2; exit 1; }
[ -f "$readme" ] || { echo "FAIL: $readme is missing" >&2; exit 1; }

found=0
status=0
while IFS= read -r command; do
    found=$((found + 1))
    if grep -qxF -- "$command" "$readme"; then
        echo "ok: README has: $command"
    else
        echo "FAIL: .ci/run runs a command the README does not show: $command" >&2
        status=1
    fi
done < <(awk '/^# README command [0-9]+$/ { getline; print }' "$ci")

if [ "$found" -ne 2 ]; then
    echo "FAIL: expected 2 '# README command N' lines in .ci/run, found $found" >&2
    status=1
fi
exit $status
