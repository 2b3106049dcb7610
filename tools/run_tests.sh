#!/usr/bin/env bash
# Builds and runs every test, as CI does:
#   1. the default compiler, Release (build/): unit tests, the trainer end to end (cli), the three ways
#      to consume the package (consumer), every header on its own and the warning matrix with g++ and
#      clang++ (headers), and PyTorch parity where PyTorch is installed (pytorch);
#   2. clang++ with AddressSanitizer and UndefinedBehaviorSanitizer (build-clang-asan/): the unit tests
#      again, and a short run of each libFuzzer target (fuzz). Skipped if clang++ is missing.
#
#   tools/run_tests.sh            # both
#   BABYGPT_JOBS=4 tools/run_tests.sh
# One part by hand: ctest --test-dir build -L cli (or -L unit, -L headers, ...).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=${BABYGPT_JOBS:-2}

echo "== build/: $(c++ --version | head -n 1)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure

if ! command -v clang++ >/dev/null 2>&1; then
    echo "== clang++ not found: the clang, sanitizer and fuzz runs are skipped (tools/install_dependencies.sh installs it)"
    exit 0
fi
echo "== build-clang-asan/: $(clang++ --version | head -n 1), AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-clang-asan -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -Wno-pass-failed" -DBABYGPT_SANITIZE=ON -DBABYGPT_FUZZ=ON \
    -DBABYGPT_BUILD_EXAMPLES=OFF -DBABYGPT_BUILD_BENCHMARKS=OFF
cmake --build build-clang-asan -j"$jobs"
ctest --test-dir build-clang-asan --output-on-failure -L "unit|fuzz"
