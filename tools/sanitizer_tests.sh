#!/usr/bin/env bash
# The second half of the README's command 2, after the Release build's ctest: clang++ with
# AddressSanitizer and UndefinedBehaviorSanitizer (build-clang-asan/) builds and runs the unit tests
# again, and runs each libFuzzer target for a short time (ctest labels unit and fuzz). Skipped, with a
# message, when clang++ is not installed (tools/install_dependencies.sh installs it).
#
#   tools/sanitizer_tests.sh
#   BABYGPT_JOBS=4 tools/sanitizer_tests.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=${BABYGPT_JOBS:-2}

if ! command -v clang++ >/dev/null 2>&1; then
    echo "== clang++ not found: the sanitizer and fuzz runs are skipped (tools/install_dependencies.sh installs it)"
    exit 0
fi
echo "== build-clang-asan/: $(clang++ --version | head -n 1), AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-clang-asan -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -Wno-pass-failed" -DBABYGPT_SANITIZE=ON -DBABYGPT_FUZZ=ON \
    -DBABYGPT_BUILD_EXAMPLES=OFF -DBABYGPT_BUILD_BENCHMARKS=OFF
cmake --build build-clang-asan -j"$jobs"
# LLVM's OpenMP runtime does not free the threads of a grown team at exit; tools/lsan_suppressions.txt
# says so to LeakSanitizer, which would otherwise fail every test that asks for more threads.
export LSAN_OPTIONS="suppressions=$PWD/tools/lsan_suppressions.txt${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
ctest --test-dir build-clang-asan --output-on-failure -L "unit|fuzz"
