#!/usr/bin/env bash
# Builds the neural stages against the LibTorch inside a PyTorch install (CUDA) and runs the tiny
# codec and temporal presets on the GPU. Needs: PyTorch with CUDA, CMake, g++. Header-only
# dependencies (toml++, nlohmann-json, fmt) and zlib's headers come from a folder given as $1
# (made on a Debian machine by copying /usr/include/{toml++,nlohmann,fmt,zlib.h,zconf.h}).
set -euo pipefail
deps=$(realpath "${1:?usage: gpu-check.sh DEPS_INCLUDE_DIR [OUT_DIR]}")
out=${2:-/tmp/rawmed-gpu}
mkdir -p "$out"
cd "$(dirname "$0")/.."
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
cmake -S . -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DRAWMED_GPU_CHECK=ON -DRAWMED_DEPS_INCLUDE="$deps" \
  -DCMAKE_PREFIX_PATH="$prefix" > "$out/cmake.log" 2>&1 || { tail -40 "$out/cmake.log"; exit 1; }
cmake --build "$out/build" -j "$(nproc)" --target gpu_check 2>&1 | grep -E "error|warning: unused|Linking" | head -60
"$out/build/gpu_check" configs/mimic-iv-demo.toml "$out/work" cuda
# Optional: the demo codec preset to early stopping (or MAX_MINUTES) on the GPU.
if [ -n "${RAWMED_GPU_DEMO_MINUTES:-}" ]; then
  "$out/build/gpu_check" configs/mimic-iv-demo.toml "$out/work-demo" cuda demo "$RAWMED_GPU_DEMO_MINUTES"
fi
