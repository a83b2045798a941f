#!/usr/bin/env bash
# Builds dstc if needed (scripts/build.sh), then runs it with the given arguments:
#   scripts/dstc.sh run            # the default DSTC round on the embedded toy world
#   scripts/dstc.sh --help
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build.sh" >&2
exec "$root/build/cli/dstc" "$@"
