#!/usr/bin/env bash
# Installs every Debian package that dstc's build, tests and runtime need.
# Idempotent: packages already present are left as they are, and apt is only
# called when something is missing. Run as root (or through sudo).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # LibTorch and a fast BLAS for it (reference BLAS is ~5x slower)
  libtorch-dev libopenblas0-pthread
  # store, sandbox, CLI, logging, formats
  # Boost.Process is header-only and ships in libboost-dev
  librocksdb-dev libseccomp-dev libboost-dev libboost-filesystem-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libpcre2-dev libexpected-dev
  libcpp-httplib-dev libssl-dev zlib1g-dev
  # NFC normalization for tokenizer.json normalizers (Qwen2/Qwen3)
  libutf8proc-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # PyTorch-eager baseline of `dstc bench train` (scripts/bench_train_reference.py)
  python3-torch
  # the sandbox's interpreter and the libraries benchmark programs import
  python3 python3-numpy python3-pandas
  # the sandbox zygote embeds /usr/bin/python3's CPython
  libpython3.11-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's LibTorch links libblas.so.3; make sure the alternative points at OpenBLAS.
blas=$(readlink -f "$(ldconfig -p | awk '/libblas\.so\.3 .*x86-64/ {print $NF; exit}')" || true)
if [[ "$blas" != *openblas* ]]; then
  for cand in /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3; do
    if [ -e "$cand" ]; then
      SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
      $SUDO update-alternatives --set libblas.so.3-x86_64-linux-gnu "$cand" >/dev/null
    fi
  done
  blas=$(readlink -f "$(ldconfig -p | awk '/libblas\.so\.3 .*x86-64/ {print $NF; exit}')" || true)
fi
if [[ "$blas" != *openblas* ]]; then
  echo "install-deps: libblas.so.3 resolves to '$blas', not OpenBLAS; LibTorch would be ~5x slower" >&2
  exit 1
fi
echo "install-deps: all packages present; libblas.so.3 -> $blas" >&2
