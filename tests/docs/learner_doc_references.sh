#!/usr/bin/env bash
# The learners' documents (docs/tour.md, ladder.md, layernorm.md and their translations) must not point
# at things that are gone: every file one names in backticks exists (as a path from the repository root
# or from include/babygpt/, or as the name of a file in one of its source folders); for every
# `Scope::name` it names, the scope is a class, struct, enum or namespace of include/ or examples/ and
# the name appears there; and every relative link or figure, `[...](path)`, exists next to the document.
#
#   bash tests/docs/learner_doc_references.sh <repository root> <doc.md>...
set -u
root=${1:?usage: bash tests/docs/learner_doc_references.sh <repository root> <doc.md>...}
shift
status=0 checked=0
for doc in "$@"; do
    [ -f "$doc" ] || { echo "FAIL: $doc is missing" >&2; exit 1; }
    # Files: `path/name.ext` (possibly with :: or words after a space, which are not part of it).
    while IFS= read -r file; do
        checked=$((checked + 1))
        if [ ! -e "$root/$file" ] && [ ! -e "$root/include/babygpt/$file" ] &&
            [ -z "$(find "$root/include" "$root/examples" "$root/tests" "$root/tools" "$root/docs" -name "$file" -print -quit)" ]; then
            echo "FAIL: $doc names $file, which does not exist" >&2
            status=1
        fi
    done < <(grep -o '`[A-Za-z0-9_./-]*\.\(hpp\|cpp\|sh\|py\|md\|txt\)`' "$doc" | tr -d '`' | sort -u)
    # Functions: `Class::function` or `Class<T>::function`.
    while IFS= read -r name; do
        checked=$((checked + 1))
        class=${name%%::*} class=${class%%<*} function=${name##*::}
        if ! grep -rqE "(class|struct|enum class|namespace [a-z_:]*) ?$class\b" "$root/include" "$root/examples" ||
            ! grep -rqE "\b$function\b" "$root/include" "$root/examples"; then
            echo "FAIL: $doc names $name, which is not defined in include/ or examples/" >&2
            status=1
        fi
    done < <(grep -o '`[A-Za-z_]*\(<[A-Za-z]*>\)\?::[A-Za-z_]*' "$doc" | tr -d '`' | grep -v '^babygpt::\|^std::' | sort -u)
    # Links and figures: ](path) or ](path#anchor), other than web addresses.
    while IFS= read -r target; do
        checked=$((checked + 1))
        if [ ! -e "$(dirname "$doc")/$target" ]; then
            echo "FAIL: $doc links $target, which does not exist" >&2
            status=1
        fi
    done < <(grep -o '](\([^)#]*\)' "$doc" | sed 's/^](//' | grep -v '^https\?:\|^$' | sort -u)
done
[ "$status" -eq 0 ] && echo "ok: $checked references in $* exist"
exit $status
