#!/usr/bin/env bash
# Rebuilds models/toy, the toy world's base model, with dstc itself (about 12 minutes
# on 2 idle cores): SFT data from the pre-training split, a byte-level BPE trained on it, a
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

# The SFT mix (docs/toy-world.md): 48,000 pre-training tasks; a code target for one in
# four (ending with a docstring example restated as an assert, as code models often
# write), both docstring examples restated as test targets for every task. Sixteen
# templates' code targets carry the template's typical slip at a fixed rate: 0.65 for ten
# of them (the base model's greedy answer is then the slip, but its samples are often
# right: headroom DSTC can recover), 0.3 for six (greedy is right, samples sometimes not).
bugs=affine=0.65,first_n=0.65,sum_first=0.65,scale=0.65,abs_diff=0.65,square_add=0.65
bugs=$bugs,digit_sum=0.65,count_gt=0.65,keep_lt=0.65,floor_div=0.65
bugs=$bugs,max_plus=0.3,rev_add=0.3,add_each=0.3,max_add=0.3,sum_to=0.3,clamp=0.3
"$dstc" toy export --split pretrain --count 48000 --seed 1 --format sft --code-every 4 \
  --code-with-test --varied-tests 0 --bug-rates "$bugs" --out "$work/sft.jsonl"
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
