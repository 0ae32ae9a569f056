#!/usr/bin/env bash
# Fuzz smoke run (ctest `fuzz_smoke`, `make fuzz-smoke`): builds the libFuzzer targets with clang in
# BUILD_DIR (default build-fuzz) and runs each over its seed corpus, then 5 seconds of fuzzing from
# it. Fails on any crash, sanitizer report or hang. Exits 77 (ctest: skipped) when clang++ or
# libFuzzer is missing; scripts/install-deps.sh installs clang.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-fuzz}
seconds=${FUZZ_SMOKE_SECONDS:-5}
if ! command -v clang++ > /dev/null; then
  echo "fuzz smoke: skipped, clang++ is not installed (apt-get install clang)"
  exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$probe/p.cpp"
if ! clang++ -fsanitize=fuzzer "$probe/p.cpp" -o "$probe/p" 2> /dev/null; then
  echo "fuzz smoke: skipped, clang++ cannot link libFuzzer (-fsanitize=fuzzer)"
  exit 77
fi
cmake -S "$src" -B "$build" -DRAWMED_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build" -j "${JOBS:-2}" > "$probe/build.log" 2>&1 || { cat "$probe/build.log"; exit 1; }
for dir in "$src"/fuzz/corpus/*/; do
  target=$(basename "$dir")
  work="$probe/$target"
  mkdir -p "$work"
  echo "fuzz smoke: $target (seeds, then ${seconds} s)"
  # A fresh output corpus: the seeds in the repository are never modified.
  TMPDIR="$probe" "$build/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work" "$dir" > "$work/log" 2>&1 || {
    tail -n 60 "$work/log"
    echo "fuzz smoke: fuzz_$target failed; the input is in $work (kept)"
    trap - EXIT
    exit 1
  }
  grep -E "^stat::number_of_executed_units|DONE" "$work/log" | tail -n 2 | tr '\n' ' '
  echo
done
