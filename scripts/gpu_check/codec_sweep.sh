#!/usr/bin/env bash
# Codec preset sweep on a GPU machine (notes/issue-3.md): builds gpu_check like gpu-check.sh, then
# trains several [codec] variants of the MIMIC-IV (and eICU) demo at the same time, each for
# MINUTES of wall time, and prints the final figures of each. Usage:
#   codec_sweep.sh DEPS_INCLUDE OUT MINUTES
set -euo pipefail
deps=$(realpath "$1"); out=$2; minutes=$3
mkdir -p "$out"; out=$(realpath "$out")
cd "$(dirname "$0")/../.."
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S . -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DRAWMED_GPU_CHECK=ON -DRAWMED_DEPS_INCLUDE="$deps" \
  -DCMAKE_PREFIX_PATH="$prefix" > "$out/cmake.log" 2>&1 || { tail -40 "$out/cmake.log"; exit 1; }
cmake --build "$out/build" -j "$(nproc)" --target gpu_check 2>&1 | grep -E "error" | head -20 || true
# variant NAME BASE_CONFIG DEVICE PRESET "[codec] lines"
variant() {
  local cfg="configs/.sweep-$1.toml"
  { cat "configs/$2.toml"; printf '\n[codec]\n%b\n' "$5"; } > "$cfg"
  "$out/build/gpu_check" "$cfg" "$out/$1" "$3" "$4" "$minutes" 2 > "$out/$1.log" 2>&1 &
}
while read -r name base device preset keys; do
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] || variant "$name" "$base" "$device" "$preset" "$keys"
done < "${SWEEP_FILE:-scripts/gpu_check/codec_sweep.txt}"
wait
for log in "$out"/*.log; do
  [ "$(basename "$log")" = cmake.log ] && continue
  echo "== $(basename "$log" .log)"; grep -E "^codec " "$log" || tail -5 "$log"
  grep -E "codec epoch [0-9]+:" "$log" | tail -3 | cut -c1-140
done
