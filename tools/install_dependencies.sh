#!/usr/bin/env bash
# Installs what babygpt's build, tests and trainer need, from Debian's (or Ubuntu's) packages.
# Runs apt-get directly as root, through sudo otherwise. Prints what it installs; safe to run again.
#
#   tools/install_dependencies.sh
set -euo pipefail

packages=(
    build-essential cmake g++          # the compiler and the build
    libeigen3-dev                      # the tensor storage and matrix products
    nlohmann-json3-dev                 # safetensors headers
    libcli11-dev                       # the trainer's command line
    doctest-dev                        # the unit tests
    python3                            # the transcript test and tools/ scripts (PyTorch optional)
    libopenblas-dev                    # faster matrix products for the programs built here (optional)
    libdnnl-dev                        # bf16 matrix products, the trainer's --dtype bf16 (optional)
    libopenmpi-dev openmpi-bin         # data-parallel training with mpirun, and its tests (optional)
    clang libclang-rt-14-dev libomp-14-dev  # the second compiler, its sanitizers, fuzzer and OpenMP (tests)
)

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get not found; install these packages with your system's package manager: ${packages[*]}" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "error: installing packages needs root; run this as root or install sudo" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"
