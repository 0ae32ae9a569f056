#!/usr/bin/env bash
# Installs the Debian 12 packages rawmed needs (apt-get; sudo when not root). Safe to rerun.
set -euo pipefail
packages=(g++ cmake make ccache pkg-config zlib1g-dev libfmt-dev nlohmann-json3-dev libtomlplusplus-dev
          libcli11-dev libgtest-dev libbenchmark-dev libxgboost-dev libtorch-dev libgloo-dev
          libpq-dev libsqlite3-dev postgresql  # database input/output; the tests start their own server
          libopenblas0-openmp libopenblas0-pthread gnuplot-nox
          clang libclang-rt-14-dev)  # clang + libFuzzer: the fuzz smoke run of `make test` (fuzz/)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# LibTorch calls the system BLAS. The reference BLAS is ~15-20x slower than OpenBLAS; the OpenMP
# build of OpenBLAS cooperates with Torch's own OpenMP thread pool (measured: docs/architecture.md).
target=/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3
if [ -e "$target" ]; then
  current=$(readlink -f /etc/alternatives/libblas.so.3-x86_64-linux-gnu 2>/dev/null || true)
  if [ "$current" != "$target" ]; then
    $sudo update-alternatives --set libblas.so.3-x86_64-linux-gnu "$target"
    $sudo update-alternatives --set liblapack.so.3-x86_64-linux-gnu \
      /usr/lib/x86_64-linux-gnu/openblas-openmp/liblapack.so.3 || true
  fi
fi
