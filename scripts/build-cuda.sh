#!/usr/bin/env bash
# Builds the whole `rawmed` against the LibTorch inside an installed PyTorch (with CUDA), so that
# every stage takes --device cuda. Usage: scripts/build-cuda.sh [BUILD_DIR] (default build-cuda).
# Needs: PyTorch with CUDA for $PYTHON (default python3), CMake, g++, and the same Debian -dev
# packages as the CPU build (scripts/install-deps.sh: fmt, toml++, nlohmann-json, CLI11, zlib,
# OpenSSL, libpq, SQLite, XGBoost). Debian's libtorch-dev is not used: the LibTorch that PyTorch
# ships is found first through CMAKE_PREFIX_PATH. With a wheel built on the pre-C++11 ABI the build
# leaves out the tests and benchmarks (see CMakeLists.txt); CI stays on the CPU build.
# Data-parallel training uses Gloo when its headers are found (libgloo-dev); gradients of GPU
# tensors are summed through host memory (no NCCL yet).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-cuda}
python=${PYTHON:-python3}
prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
"$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
  "cxx11 abi", torch.compiled_with_cxx11_abi(), "gpus", torch.cuda.device_count())'
cuda_found=$("$python" -c 'import torch; print(1 if torch.version.cuda else 0)')
[ "$cuda_found" = 1 ] || echo "build-cuda: warning: this PyTorch has no CUDA; the build will be CPU-only" >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" -DRAWMED_FUZZ_SMOKE=OFF
cmake --build "$build" -j "$(nproc)" --target rawmed
# The wheel's libraries are found at run time through the RPATH CMake records for them.
"$build/rawmed" --version 2>/dev/null || true
echo "built $build/rawmed; try: $build/rawmed run --config configs/mimic-iv-demo.toml --work /tmp/rawmed-cuda --preset tiny --device cuda"
