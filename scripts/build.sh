#!/usr/bin/env bash
# Installs the system packages (once) and builds everything into ./build.
# Incremental: a second call with nothing changed takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build -j"$(nproc)"
