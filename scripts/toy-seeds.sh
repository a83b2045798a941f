#!/usr/bin/env bash
# The toy world's acceptance experiment: the default `dstc run` (configs/toy.toml: one
# DSTC round, the code-only / random / oracle / KTO variants on the same matrices) with
# run seeds 1, 2 and 3, then a table of held-out pass@1 per seed and the mean.
#   scripts/toy-seeds.sh [SEED ...]      (runs land in runs/toy-seed<S>; about 7 min each)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dstc="$root/build/cli/dstc"
[ -x "$dstc" ] || "$root/scripts/build.sh"
export OPENBLAS_NUM_THREADS=1
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
for s in "${seeds[@]}"; do
  if [ -f "$root/runs/toy-seed$s/summary.json" ]; then
    echo "runs/toy-seed$s exists: kept" >&2
  else
    (cd "$root" && "$dstc" run --name "toy-seed$s" --seed "$s" --resume)
  fi
done
python3 - "$root" "${seeds[@]}" <<'PY'
import json, sys
root, seeds = sys.argv[1], sys.argv[2:]
cols = ["base", "dstc", "code-only", "random", "dstc:kto", "oracle"]
rows = []
for s in seeds:
    d = json.load(open(f"{root}/runs/toy-seed{s}/summary.json"))
    r = d["rounds"][0]
    row = {"base": d["base_pass@1"], "dstc": d["final_pass@1"]}
    for v, c in r.get("compare", {}).items():
        row[v] = c["pass@1_after"]
    row["validity"] = r["self_test_validity"]
    row["pass@J"] = r["pass_at_J"]
    rows.append((s, row))
print("| seed | " + " | ".join(cols) + " | DSTC gain | self-test validity | pass@8 (train) |")
print("| --- " * (len(cols) + 4) + "|")
def fmt(v): return f"{100 * v:.1f}%"
for s, row in rows:
    cells = [fmt(row[c]) if c in row else "-" for c in cols]
    gain = 100 * (row["dstc"] - row["base"])
    print(f"| {s} | " + " | ".join(cells) + f" | {gain:+.1f} | {fmt(row['validity'])} | {fmt(row['pass@J'])} |")
mean = {c: sum(r[c] for _, r in rows if c in r) / len(rows) for c in cols}
gain = 100 * (mean["dstc"] - mean["base"])
print("| mean | " + " | ".join(fmt(mean[c]) for c in cols) + f" | {gain:+.1f} | | |")
PY
