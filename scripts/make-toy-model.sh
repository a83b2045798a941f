#!/usr/bin/env bash
# Rebuilds models/toy, the toy world's base model, with dstc itself (about 5 minutes
# on 2 cores): SFT data from the pre-training split, a byte-level BPE trained on it, a
# random Llama (1.1M parameters), one epoch of SFT. Deterministic for a given dstc.
#   scripts/make-toy-model.sh [OUT_DIR]   (default: models/toy)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/models/toy}"
dstc="$root/build/cli/dstc"
[ -x "$dstc" ] || "$root/scripts/build.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OPENBLAS_NUM_THREADS=1

# 12,000 pre-training tasks -> 48,000 SFT records (one code, three tests per task).
"$dstc" toy export --split pretrain --count 12000 --seed 1 --format sft --out "$work/sft.jsonl"
"$dstc" model init --arch llama --hidden 128 --layers 4 --heads 4 --intermediate 384 \
  --vocab 1024 --out "$work/init"
"$dstc" tokenizer train --input "$work/sft.jsonl" --field prompt --field completion \
  --vocab-size 1024 --out "$work/init/tokenizer.json"
# The tokenizer's first special token (<|endoftext|>, id 0) is EOS and BOS.
python3 - "$work/init/config.json" <<'PY'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
config["eos_token_id"] = 0
config["bos_token_id"] = 0
json.dump(config, open(path, "w"), indent=2)
PY
"$dstc" train --loss sft --model "$work/init" --data "$work/sft.jsonl" --out "$work/sft" \
  --lr 2e-3 --epochs 1 --batch-size 32 --scheduler cosine --warmup-steps 50 --seed 1
rm -rf "$out"
mkdir -p "$out"
cp "$work/sft/config.json" "$work/sft/model.safetensors" "$work/sft/tokenizer.json" \
  "$work/sft/tokenizer_config.json" "$out/"
echo "toy model written to $out" >&2
