#!/usr/bin/env bash
# One-shot GPU check of the generator (issue 5), for a rented CUDA machine with python3 +
# torch + transformers and no internet. Builds ONLY what it needs (generator model code
# and three common/ sources) directly with g++ against the pip torch, then:
#   1. our logits on CUDA (fp32, TF32 off) vs the goldens in tests/generator/data (1e-4)
#      and vs transformers on CUDA fp32 (1e-4); bf16 on CUDA vs transformers bf16 (reported,
#      loose bound 0.15);
#   2. greedy tokens: ours CPU == ours CUDA fp32 == goldens == transformers generate();
#   3. seeded sampling (n=4, temperature 1, top_p 0.95, top_k 50): CPU tokens == CUDA fp32 tokens;
#   4. the trainer (issue 6) on CUDA, built from trainer/{engine,losses,data}.cpp without the
#      run store (no RocksDB): sequence log-probs fp32 vs CPU and bf16 autocast vs fp32, DPO
#      step 0 = ln 2 in bf16 and fp32, fp32 master weights take an lr-1e-6 step, and a
#      16-pair overfit in bf16 and fp32 (checks "trainer/..."; SKIP_TRAINER=1 leaves it out).
#   5. our tokens/s on CUDA (bf16, fp32; batch 1, 16, 64) for bench_generate's S, M, L shapes,
#      and whether the trainer's log-probs are the same bits on repeated, grad and other-thread
#      forwards (reported: "ours.speed", "trainer").
# Writes $OUT/gpu_check_summary.json (OUT defaults to ./gpu-check-out) and prints it.
# Results of a run on an H200: docs/gpu-check.md.
#
# Usage: scripts/gpu-check.sh            (from the repository root)
# Env:   VENDOR_INCLUDE=dir   extra include dir with nlohmann/json.hpp, tl/expected.hpp, zlib.h
#        LIBRARY_PATH=dir     (g++'s) where libz.so is, if the machine has no zlib1g-dev
#        PYTHON=python3       the python with torch (+ transformers)
#        ALLOW_CPU=1          run without a GPU (checks the build and CPU parts only)
#        JOBS=8               parallel compiles
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$ROOT/gpu-check-out}"
PYTHON="${PYTHON:-python3}"
JOBS="${JOBS:-8}"
BUILD="$OUT/build"
mkdir -p "$OUT" "$BUILD"
LOG="$OUT/gpu_check.log"
: >"$LOG"
say() { echo "[gpu-check] $*" | tee -a "$LOG" >&2; }
die() {
  say "FAILED: $*"
  printf '{"ok": false, "stage": "%s"}\n' "$*" >"$OUT/gpu_check_summary.json"
  exit 1
}

# ---------------------------------------------------------------------------------------
say "environment"
{ uname -a; g++ --version | head -1; nvidia-smi -L 2>&1 | head -4; nvcc --version 2>&1 | tail -1; } >>"$LOG" 2>&1
TORCH_INFO=$("$PYTHON" - <<'EOF' 2>>"$LOG"
import json, os
try:
    import torch
except Exception as e:
    print(json.dumps({"torch": None, "error": str(e)})); raise SystemExit
info = {"torch": torch.__version__, "cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cxx11_abi": bool(torch.compiled_with_cxx11_abi()),
        "torch_dir": os.path.dirname(torch.__file__)}
try:
    import transformers; info["transformers"] = transformers.__version__
except Exception as e:
    info["transformers"] = None
print(json.dumps(info))
EOF
)
say "python: ${TORCH_INFO:-<none>}"
field() { "$PYTHON" -c "import json,sys; v=json.loads(sys.argv[1]).get('$1'); print('' if v is None else v)" "$TORCH_INFO" 2>/dev/null; }
TORCH_DIR=$(field torch_dir)
ABI=$(field cxx11_abi)
if [[ -n "$TORCH_DIR" ]]; then
  TORCH_INC="-isystem $TORCH_DIR/include -isystem $TORCH_DIR/include/torch/csrc/api/include"
  TORCH_LIBDIR="$TORCH_DIR/lib"
  [[ "$ABI" == "True" ]] && ABI_FLAG="-D_GLIBCXX_USE_CXX11_ABI=1" || ABI_FLAG="-D_GLIBCXX_USE_CXX11_ABI=0"
elif [[ -f /usr/include/torch/csrc/api/include/torch/torch.h && -n "${ALLOW_CPU:-}" ]]; then
  say "no python torch; using Debian's LibTorch (CPU only)"
  TORCH_INC="-isystem /usr/include/torch/csrc/api/include"
  TORCH_LIBDIR="/usr/lib/x86_64-linux-gnu"
  ABI_FLAG="-D_GLIBCXX_USE_CXX11_ABI=1"
else
  die "python torch not importable (set PYTHON=...)"
fi
if [[ "$ABI_FLAG" == *"=0" ]]; then
  say "note: this torch uses the pre-C++11 ABI; building our sources with it too (no Debian libs are linked)"
fi

# Headers we need besides torch.
INC="-I$ROOT ${VENDOR_INCLUDE:+-I$VENDOR_INCLUDE}"
for cand in "$ROOT/third_party/include" "$ROOT/vendor/include" "$ROOT/../shared/vendor/include"; do
  [[ -d "$cand" ]] && INC="$INC -I$cand"
done
missing=()
for h in nlohmann/json.hpp tl/expected.hpp zlib.h; do
  if ! echo "#include <$h>" | g++ -std=c++20 $INC -x c++ -fsyntax-only - 2>/dev/null; then
    missing+=("$h")
  fi
done
if ((${#missing[@]})); then
  say "MISSING headers: ${missing[*]}"
  say "  nlohmann/json.hpp: Debian nlohmann-json3-dev or any single-header copy; tl/expected.hpp:"
  say "  Debian libexpected-dev or TartanLlama/expected's header; zlib.h: zlib1g-dev."
  say "  Put copies under a folder and rerun with VENDOR_INCLUDE=that/folder"
  die "missing headers: ${missing[*]}"
fi

# ---------------------------------------------------------------------------------------
say "building (g++, -O2, $JOBS jobs)"
cat >"$BUILD/gpu_check_main.cpp" <<'EOF'
// Driver: runs our engine on CPU and CUDA for each model folder and writes JSON.
#include <algorithm>
#include <cstdio>
#include <fstream>

#include "common/file.h"
#include "common/json.h"
#include "generator/engine.h"
#include "generator/model.h"

using namespace dstc;
using namespace dstc::generator;

static Json run_logits(CausalLM& model, const Json& goldens, torch::Device dev) {
  Json out = Json::array();
  torch::NoGradGuard ng;
  for (const auto& c : goldens["cases"]) {
    auto ids = c["input_ids"].get<std::vector<int64_t>>();
    auto in = torch::tensor(ids, torch::kInt64).unsqueeze(0).to(dev);
    auto logits = model->forward(in)[0].to(torch::kCPU, torch::kFloat32).contiguous();
    double max_golden = 0;
    for (const char* w : {"first", "mid", "last"}) {
      int64_t pos = c["positions"][w].get<int64_t>();
      auto want = torch::tensor(c[std::string("logits_") + w].get<std::vector<float>>());
      max_golden = std::max(max_golden, (logits[pos] - want).abs().max().item<double>());
    }
    std::vector<float> flat(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
    out.push_back({{"name", c["name"]}, {"input_ids", ids}, {"max_abs_diff_vs_goldens", max_golden},
                   {"shape", {logits.size(0), logits.size(1)}}, {"logits", flat}});
  }
  return out;
}

static Result<Json> run_generate(const std::string& dir, const std::string& device,
                                 const std::string& dtype, const Json& goldens) {
  EngineOptions eo;
  eo.device = device;
  eo.dtype = dtype;
  eo.num_threads = 4;
  DSTC_TRY(auto engine, LocalEngine::load(dir, eo));
  std::vector<Prompt> prompts;
  for (const auto& c : goldens["cases"]) prompts.push_back(Prompt::from_ids(c["input_ids"].get<std::vector<int32_t>>()));
  SamplingParams g;
  g.greedy = true;
  g.max_new_tokens = 16;
  g.ignore_eos = true;
  DSTC_TRY(auto greedy, engine->generate(prompts, g));
  SamplingParams s;
  s.temperature = 1.0;
  s.top_p = 0.95;
  s.top_k = 50;
  s.n = 4;
  s.seed = 20240601;
  s.max_new_tokens = 16;
  s.ignore_eos = true;
  DSTC_TRY(auto sampled, engine->generate(prompts, s));
  Json j = {{"greedy", Json::array()}, {"sampled", Json::array()}};
  for (auto& v : greedy) j["greedy"].push_back(v[0].ids);
  for (auto& v : sampled) {
    Json per = Json::array();
    for (auto& c : v) per.push_back(c.ids);
    j["sampled"].push_back(per);
  }
  return j;
}

// Tokens/s on CUDA for bench_generate's random Llama shapes (vocab 32000, untied), sampled at
// temperature 1 from 8-token prompts, 48 new tokens, median of 3 after a warm-up.
static Json cuda_speed() {
  struct Shape {
    const char* name;
    int64_t hidden, intermediate, layers, heads;
  };
  const Shape shapes[] = {{"S", 128, 344, 4, 4}, {"M", 512, 1376, 8, 8}, {"L", 768, 2048, 12, 12}};
  Json out = Json::object();
  for (const Shape& s : shapes) {
    ModelConfig c;
    c.hidden_size = s.hidden;
    c.intermediate_size = s.intermediate;
    c.num_hidden_layers = s.layers;
    c.num_attention_heads = c.num_key_value_heads = s.heads;
    c.head_dim = s.hidden / s.heads;
    for (auto dtype : {torch::kBFloat16, torch::kFloat32}) {
      CausalLM model(c);
      init_random(*model, 42);
      model->eval();
      model->to(torch::kCUDA, dtype);
      EngineOptions eo;
      eo.device = "cuda";
      eo.dtype = dtype == torch::kBFloat16 ? "bfloat16" : "float32";
      eo.max_batch = 64;
      auto engine = LocalEngine::from_model(model.ptr(), eo);
      for (int64_t batch : {1, 16, 64}) {
        std::vector<Prompt> prompts;
        for (int64_t b = 0; b < batch; ++b) {
          std::vector<int32_t> ids;
          for (int64_t t = 0; t < 8; ++t) ids.push_back(static_cast<int32_t>(1 + (b * 131 + t * 17) % 31999));
          prompts.push_back(Prompt::from_ids(ids));
        }
        SamplingParams p;
        p.temperature = 1.0;
        p.seed = 1;
        p.ignore_eos = true;
        p.max_new_tokens = 48;
        std::vector<double> runs;
        for (int r = 0; r < 4; ++r) {
          auto res = engine->generate(prompts, p);
          if (!res) return {{"error", res.error().message()}};
          if (r > 0) runs.push_back(engine->last_stats().tokens_per_s());
        }
        std::sort(runs.begin(), runs.end());
        out[s.name][eo.dtype]["batch" + std::to_string(batch)] = runs[1];
      }
    }
  }
  return out;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: gpu_check OUT_DIR MODEL_DIR...\n");
    return 2;
  }
  std::string out_dir = argv[1];
  const bool cuda = torch::cuda::is_available();
  Json summary = {{"cuda_available", cuda}};
  for (int i = 2; i < argc; ++i) {
    std::string dir = argv[i];
    std::string name = dir.substr(dir.find_last_of('/') + 1);
    auto text = read_file(dir + "/goldens.json");
    if (!text) { std::fprintf(stderr, "%s\n", text.error().message().c_str()); return 1; }
    Json goldens = Json::parse(*text);
    Json m;
    std::vector<std::pair<std::string, std::string>> runs = {{"cpu", "float32"}};
    if (cuda) { runs.push_back({"cuda", "float32"}); runs.push_back({"cuda", "bfloat16"}); }
    for (auto& [dev, dt] : runs) {
      std::string key = dev + "_" + dt;
      LoadOptions lo; lo.device = dev; lo.dtype = dt;
      auto model = load_causal_lm(dir, lo);
      if (!model) { m[key] = {{"error", model.error().message()}}; continue; }
      Json logits = run_logits(*model, goldens, torch::Device(dev));
      double worst = 0;
      for (auto& c : logits) worst = std::max(worst, c["max_abs_diff_vs_goldens"].get<double>());
      std::ofstream(out_dir + "/ours_" + name + "_" + key + ".json") << logits.dump();
      auto gen = run_generate(dir, dev, dt, goldens);
      Json r = {{"max_abs_diff_vs_goldens", worst}};
      if (gen) { r["greedy"] = (*gen)["greedy"]; r["sampled"] = (*gen)["sampled"]; }
      else r["error"] = gen.error().message();
      Json want = Json::array();
      for (auto& c : goldens["cases"]) want.push_back(c["greedy_new_tokens"]);
      r["greedy_equals_goldens"] = gen && (*gen)["greedy"] == want;
      m[key] = r;
    }
    if (m.contains("cuda_float32") && m["cuda_float32"].contains("sampled"))
      m["sampled_cpu_equals_cuda_fp32"] = m["cpu_float32"]["sampled"] == m["cuda_float32"]["sampled"];
    if (m.contains("cuda_float32") && m["cuda_float32"].contains("greedy"))
      m["greedy_cpu_equals_cuda_fp32"] = m["cpu_float32"]["greedy"] == m["cuda_float32"]["greedy"];
    summary["models"][name] = m;
  }
  if (cuda) summary["speed"] = cuda_speed();
  std::ofstream(out_dir + "/ours_summary.json") << summary.dump(2);
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}
EOF

CXXFLAGS="-std=c++20 -O2 -fPIC -w $ABI_FLAG $INC $TORCH_INC"
SOURCES=(common/error.cpp common/json.cpp common/file.cpp common/blas_threads.cpp generator/checkpoint.cpp
  generator/model.cpp generator/sampling.cpp generator/engine.cpp)
# The hand-written CPU decode path, with generator/CMakeLists.txt's per-file flags: FMA
# contraction for cpu_kernels.cpp, cpu_packed.cpp and sampling.cpp (bit-identical softmax
# weights on the AVX2 and AVX-512 targets).
SOURCES+=(generator/cpu_decode.cpp generator/cpu_kernels.cpp generator/cpu_packed.cpp
  generator/cpu_pool.cpp)
file_flags() {
  case "$(basename "$1")" in
    sampling.cpp | cpu_kernels.cpp | cpu_packed.cpp) echo "-ffp-contract=fast" ;;
  esac
}
# The OpenMP runtime LibTorch already uses: the wheel's bundled libgomp if any, else gcc's.
OMP_LINK=$(ls "$TORCH_LIBDIR"/libgomp*.so* 2>/dev/null | head -1)
[[ -n "$OMP_LINK" ]] || OMP_LINK="-fopenmp"
pids=()
objs=()
for src in "${SOURCES[@]}" "$BUILD/gpu_check_main.cpp"; do
  [[ "$src" = /* ]] && path="$src" || path="$ROOT/$src"
  obj="$BUILD/$(basename "${src%.cpp}").o"
  objs+=("$obj")
  g++ $CXXFLAGS $(file_flags "$src") -c "$path" -o "$obj" >>"$LOG" 2>&1 &
  pids+=($!)
  while (($(jobs -rp | wc -l) >= JOBS)); do sleep 0.5; done
done
ok=1
for p in "${pids[@]}"; do wait "$p" || ok=0; done
((ok)) || { tail -30 "$LOG" >&2; die "compile"; }
TORCH_LIBS="-ltorch -ltorch_cpu -lc10"
[[ -f "$TORCH_LIBDIR/libtorch_cuda.so" ]] && TORCH_LIBS="$TORCH_LIBS -ltorch_cuda -lc10_cuda"
g++ -o "$BUILD/gpu_check" "${objs[@]}" -L"$TORCH_LIBDIR" -Wl,--no-as-needed $TORCH_LIBS \
  -Wl,--as-needed -Wl,-rpath,"$TORCH_LIBDIR" $OMP_LINK -lz -lpthread >>"$LOG" 2>&1 || {
  tail -30 "$LOG" >&2
  die "link"
}
say "built $BUILD/gpu_check"

# ---------------------------------------------------------------------------------------
MODELS=()
for m in tiny-qwen2 tiny-llama-gqa tiny-llama3-tied; do MODELS+=("$ROOT/tests/generator/data/$m"); done
say "running our engine (CPU, CUDA fp32, CUDA bf16)"
export NVIDIA_TF32_OVERRIDE=0  # no TF32 in cuBLAS: fp32 must be fp32 for the 1e-4 checks
"$BUILD/gpu_check" "$OUT" "${MODELS[@]}" >"$OUT/ours_stdout.json" 2>>"$LOG" || die "gpu_check run"
CUDA_OK=$("$PYTHON" -c "import json;print(json.load(open('$OUT/ours_summary.json'))['cuda_available'])")
if [[ "$CUDA_OK" != "True" && "$CUDA_OK" != "true" && -z "${ALLOW_CPU:-}" ]]; then
  say "our build sees no CUDA (ldd follows)"; ldd "$BUILD/gpu_check" | grep -E "torch|c10|cuda" >>"$LOG"
fi

say "comparing with transformers"
"$PYTHON" - "$OUT" "${MODELS[@]}" <<'EOF' 2>>"$LOG"
import json, os, sys
out = sys.argv[1]; models = sys.argv[2:]
ours = json.load(open(os.path.join(out, "ours_summary.json")))
summary = {"ours": ours, "transformers": {}, "checks": {}}
checks = summary["checks"]
def check(name, ok, **detail):
    checks[name] = {"ok": bool(ok), **detail}
for d in models:
    name = os.path.basename(d)
    m = ours["models"][name]
    check(f"{name}/cpu_fp32_vs_goldens", m["cpu_float32"].get("max_abs_diff_vs_goldens", 1) <= 1e-4,
          max_abs_diff=m["cpu_float32"].get("max_abs_diff_vs_goldens"))
    check(f"{name}/cpu_greedy_vs_goldens", m["cpu_float32"].get("greedy_equals_goldens"))
    if ours["cuda_available"]:
        check(f"{name}/cuda_fp32_vs_goldens", m["cuda_float32"].get("max_abs_diff_vs_goldens", 1) <= 1e-4,
              max_abs_diff=m["cuda_float32"].get("max_abs_diff_vs_goldens"))
        check(f"{name}/cuda_fp32_greedy_vs_goldens", m["cuda_float32"].get("greedy_equals_goldens"))
        check(f"{name}/greedy_cpu_eq_cuda_fp32", m.get("greedy_cpu_equals_cuda_fp32"))
        check(f"{name}/sampled_cpu_eq_cuda_fp32", m.get("sampled_cpu_equals_cuda_fp32"))
        summary.setdefault("bf16_vs_goldens_max_abs_diff", {})[name] = m["cuda_bfloat16"].get("max_abs_diff_vs_goldens")
try:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM
except Exception as e:
    summary["transformers"] = {"error": f"not importable: {e}"}
    torch = None
if torch is not None and "error" not in summary["transformers"]:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = "cuda" if torch.cuda.is_available() and ours["cuda_available"] else "cpu"
    for d in models:
        name = os.path.basename(d)
        goldens = json.load(open(os.path.join(d, "goldens.json")))
        for dt, key, tol in ((torch.float32, "float32", 1e-4), (torch.bfloat16, "bfloat16", 0.15)):
            if dev == "cpu" and dt == torch.bfloat16:
                continue
            ours_file = os.path.join(out, f"ours_{name}_{'cuda' if dev == 'cuda' else 'cpu'}_{key}.json")
            hf = None
            # transformers 5 takes dtype=, older ones torch_dtype= (and may pass an unknown
            # keyword on to the config silently, hence the dtype check).
            for kwargs in ({"dtype": dt, "attn_implementation": "eager"},
                           {"torch_dtype": dt, "attn_implementation": "eager"}, {"dtype": dt},
                           {"torch_dtype": dt}):
                try:
                    hf = AutoModelForCausalLM.from_pretrained(d, **kwargs).to(dev).eval()
                    if next(hf.parameters()).dtype == dt:
                        break
                    hf = None
                except Exception as e:
                    summary["transformers"][f"{name}/{key}"] = {"error": str(e)}
            if hf is None:
                check(f"{name}/{dev}_{key}_transformers_load", False)
                continue
            mine = json.load(open(ours_file))
            worst, greedy_ok = 0.0, True
            for case, my in zip(goldens["cases"], mine):
                ids = torch.tensor([case["input_ids"]], device=dev)
                with torch.no_grad():
                    ref = hf(ids).logits[0].float().cpu()
                got = torch.tensor(my["logits"]).view(*my["shape"])
                worst = max(worst, (ref - got).abs().max().item())
                with torch.no_grad():
                    gen = hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=16,
                                      do_sample=False, eos_token_id=None, pad_token_id=0,
                                      min_new_tokens=16)
                hf_tokens = gen[0, ids.shape[1]:].tolist()
                ours_greedy = ours["models"][name][f"{'cuda' if dev == 'cuda' else 'cpu'}_{key}"].get("greedy", [])
                idx = [c["name"] for c in goldens["cases"]].index(case["name"])
                if key == "float32":
                    greedy_ok &= hf_tokens == case["greedy_new_tokens"] and idx < len(ours_greedy) and ours_greedy[idx] == hf_tokens
            summary["transformers"][f"{name}/{key}"] = {"max_abs_logit_diff": worst}
            check(f"{name}/{dev}_{key}_logits_vs_transformers", worst <= tol, max_abs_diff=worst, tol=tol)
            if key == "float32":
                check(f"{name}/{dev}_greedy_vs_transformers", greedy_ok)
summary["ok"] = all(c["ok"] for c in checks.values())
summary["transformers_version"] = getattr(sys.modules.get("transformers"), "__version__", None)
for k in ("ours",):
    for m in summary[k]["models"].values():
        for v in m.values():
            if isinstance(v, dict): v.pop("sampled", None)
json.dump(summary, open(os.path.join(out, "gpu_check_summary.json"), "w"), indent=2)
print(json.dumps({"ok": summary["ok"], "failed": [k for k, c in checks.items() if not c["ok"]]}))
EOF
status=$?

# ---------------------------------------------------------------------------------------
# The trainer's precision paths on CUDA (docs/trainer.md). trainer/data_store.cpp, the only
# trainer source that needs the run store (RocksDB), is left out; the driver builds Trainer
# directly, as tests/trainer/train_test.cpp does.
if [[ -z "${SKIP_TRAINER:-}" ]]; then
  say "building the trainer check"
  cat >"$BUILD/trainer_check_main.cpp" <<'EOF'
// Driver: the trainer's precision paths on CUDA (issue 6: fp32 on CPU, bf16 on CUDA), built
// from trainer/{engine,losses,data}.cpp without the store. Writes JSON checks:
//   logps    sequence log-probs: CUDA fp32 vs CPU fp32 (TF32 off), CUDA bf16 vs CUDA fp32
//   step0    DPO loss = ln 2 (1e-6) and margins exactly 0 at step 0, bf16 and fp32, parallel 1/2
//   tiny_lr  bf16 mixed precision: parameters stay fp32 and one step at lr 1e-6 moves them
//   overfit  16 pairs, 30 epochs: bf16 and fp32 both reach accuracy 1 (step times reported)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <thread>

#include "common/json.h"
#include "trainer/engine.h"

using namespace dstc;
using namespace dstc::trainer;

static generator::CausalLM model_on(const torch::Device& dev, uint64_t seed) {
  generator::ModelConfig c;
  c.vocab_size = 256;
  c.hidden_size = 64;
  c.intermediate_size = 172;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.max_position_embeddings = 256;
  generator::CausalLM m(c);
  generator::init_random(*m, seed);
  m->to(dev);
  return m;
}

static std::vector<TokenizedPair> random_pairs(size_t n, uint64_t seed) {
  uint64_t state = seed;
  auto next = [&](int64_t mod) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int32_t>((state >> 33) % static_cast<uint64_t>(mod));
  };
  std::vector<TokenizedPair> out;
  for (size_t i = 0; i < n; ++i) {
    TokenizedPair p;
    std::vector<int32_t> prompt;
    const int plen = 4 + next(8);
    for (int t = 0; t < plen; ++t) prompt.push_back(1 + next(255));
    for (Sequence* s : {&p.chosen, &p.rejected}) {
      s->ids = prompt;
      s->prompt_len = plen;
      const int clen = 4 + next(16);
      for (int t = 0; t < clen; ++t) s->ids.push_back(1 + next(255));
    }
    out.push_back(std::move(p));
  }
  return out;
}

static TrainOptions options(const torch::Device& dev, const std::string& dtype) {
  TrainOptions o;
  o.device = dev.str();
  o.dtype = dtype;
  o.batch_size = 8;
  o.parallel = 2;
  o.lr = 5e-3;
  o.loss.beta = 0.5;
  o.scheduler = "constant";
  o.progress = false;
  return o;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: trainer_check OUT_JSON\n");
    return 2;
  }
  const bool cuda = torch::cuda::is_available();
  const torch::Device dev(cuda ? "cuda" : "cpu");
  Json checks = Json::object(), info = {{"device", dev.str()}};
  auto check = [&](const std::string& name, bool ok, Json detail = Json::object()) {
    detail["ok"] = ok;
    checks["trainer/" + name] = detail;
  };

  // 1. Sequence log-probs.
  {
    auto pairs = random_pairs(8, 5);
    std::vector<const Sequence*> seqs;
    for (const auto& p : pairs) seqs.push_back(&p.chosen), seqs.push_back(&p.rejected);
    torch::NoGradGuard no_grad;
    auto cpu = sequence_logps(*model_on(torch::kCPU, 1), pack(seqs, torch::kCPU));
    auto m = model_on(dev, 1);
    auto fp32 = sequence_logps(*m, pack(seqs, dev)).cpu();
    auto bf16 = sequence_logps(*m, pack(seqs, dev), torch::kBFloat16).cpu();
    const double d32 = (fp32 - cpu).abs().max().item<double>();
    const double d16 = (bf16 - fp32).abs().max().item<double>();
    // As TrainLoopBf16.SequenceLogpsCloseToFp32: |S_bf16 − S_fp32| ≤ 0.02 + 0.2% of |S|.
    const double worst =
        ((bf16 - fp32).abs() / (0.02 + 2e-3 * fp32.abs())).max().item<double>();
    check("logps_fp32_vs_cpu", d32 <= 1e-3, {{"max_abs_diff", d32}, {"tol", 1e-3}});
    check("logps_bf16_vs_fp32", worst <= 1 && d16 > 0 && bf16.scalar_type() == torch::kFloat32,
          {{"max_abs_diff", d16}, {"worst_diff_over_tol", worst}});
  }
  // 2. Step 0: DPO = ln 2, rewards 0; three fresh trainers per setting.
  for (const std::string dtype : {"bfloat16", "float32"}) {
    for (int64_t parallel : {1, 2}) {
      bool ok = true;
      Json rounds = Json::array();
      for (int round = 0; round < 3; ++round) {
        auto o = options(dev, dtype);
        o.parallel = parallel;
        Trainer t(model_on(dev, 2), o);
        t.set_pairs(random_pairs(8, 3));
        auto cache = std::make_unique<ReferenceCache>("check");
        t.compute_reference(t.model(), *cache);
        t.set_cache(std::move(cache));
        std::map<std::string, double> m;
        const double loss = t.loss_and_grad(t.plan()[0], &m);
        ok = ok && std::abs(loss - std::log(2.0)) <= 1e-6 && m.at("rewards/margins") == 0.0;
        rounds.push_back({{"loss_minus_ln2", loss - std::log(2.0)}, {"margins", m.at("rewards/margins")}});
      }
      check("step0_" + dtype + "_parallel" + std::to_string(parallel), ok, {{"rounds", rounds}});
    }
  }
  // 2b. Is a forward the same bits every time (no grad, five times), with grad, and on
  // another host thread? Reported, not checked.
  for (auto dtype : {torch::kBFloat16, torch::kFloat32}) {
    auto pairs = random_pairs(8, 5);
    std::vector<const Sequence*> seqs;
    for (const auto& p : pairs) seqs.push_back(&p.chosen), seqs.push_back(&p.rejected);
    auto m = model_on(dev, 1);
    auto logps = [&](bool grad) {
      if (grad) return sequence_logps(*m, pack(seqs, dev), dtype).detach().cpu();
      torch::NoGradGuard no_grad;
      return sequence_logps(*m, pack(seqs, dev), dtype).cpu();
    };
    auto diff = [](const torch::Tensor& a, const torch::Tensor& b) {
      return (a - b).abs().max().item<double>();
    };
    auto first = logps(false);
    double repeat = 0;
    for (int r = 0; r < 4; ++r) repeat = std::max(repeat, diff(first, logps(false)));
    torch::Tensor other;
    std::thread th([&] { other = logps(false); });
    th.join();
    info[std::string("logps_bits_") + (dtype == torch::kFloat32 ? "fp32" : "bf16")] = {
        {"no_grad_repeat_max_diff", repeat},
        {"grad_vs_no_grad", diff(first, logps(true))},
        {"new_thread_vs_main", diff(first, other)}};
  }
  // 3. lr 1e-6 lands on fp32 master weights.
  {
    auto o = options(dev, "bfloat16");
    o.lr = 1e-6;
    Trainer t(model_on(dev, 2), o);
    t.set_pairs(random_pairs(8, 3));
    auto cache = std::make_unique<ReferenceCache>("check");
    t.compute_reference(t.model(), *cache);
    t.set_cache(std::move(cache));
    std::vector<torch::Tensor> before;
    for (const auto& p : t.model().parameters()) before.push_back(p.detach().clone());
    t.train_step(t.plan()[0], o.lr);
    int64_t moved = 0, considered = 0;
    bool fp32 = true;
    auto params = t.model().parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      fp32 = fp32 && params[i].scalar_type() == torch::kFloat32;
      auto big = before[i].abs() > 1e-3;
      considered += big.sum().item<int64_t>();
      moved += (params[i].detach() != before[i]).logical_and(big).sum().item<int64_t>();
    }
    check("bf16_tiny_lr_moves_fp32_weights", fp32 && moved > considered / 2,
          {{"moved", moved}, {"considered", considered}, {"params_fp32", fp32}});
  }
  // 4. 16 pairs overfit, bf16 and fp32.
  for (const std::string dtype : {"bfloat16", "float32"}) {
    auto o = options(dev, dtype);
    o.epochs = 30;
    Trainer t(model_on(dev, 8), o);
    t.set_pairs(random_pairs(16, 11));
    auto cache = std::make_unique<ReferenceCache>("check");
    t.compute_reference(t.model(), *cache);
    t.set_cache(std::move(cache));
    std::map<std::string, double> first, last;
    std::vector<double> times;
    auto t0 = std::chrono::steady_clock::now();
    auto st = t.run([&](int64_t step, const std::map<std::string, double>& m) {
      if (cuda) torch::cuda::synchronize();
      auto now = std::chrono::steady_clock::now();
      times.push_back(std::chrono::duration<double>(now - t0).count());
      t0 = now;
      if (step == 1) first = m;
      last = m;
    });
    std::sort(times.begin(), times.end());
    const bool ok = st && std::abs(first.at("loss") - std::log(2.0)) <= 1e-6 &&
                    last.at("rewards/accuracies") == 1.0 && last.at("loss") < 0.3;
    check("overfit_" + dtype, ok,
          {{"first_loss", st ? first.at("loss") : -1.0},
           {"last_loss", st ? last.at("loss") : -1.0},
           {"last_accuracy", st ? last.at("rewards/accuracies") : -1.0},
           {"step_median_s", times.empty() ? 0.0 : times[times.size() / 2]}});
  }
  bool all = true;
  for (auto it = checks.begin(); it != checks.end(); ++it) all = all && (*it)["ok"].get<bool>();
  Json out = {{"ok", all}, {"info", info}, {"checks", checks}};
  std::ofstream(argv[1]) << out.dump(2);
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
EOF
  TRAINER_SOURCES=(common/hash.cpp common/progress.cpp common/thread_pool.cpp trainer/losses.cpp
    trainer/data.cpp trainer/engine.cpp)
  tpids=()
  tobjs=()
  for src in "${TRAINER_SOURCES[@]}" "$BUILD/trainer_check_main.cpp"; do
    [[ "$src" = /* ]] && path="$src" || path="$ROOT/$src"
    obj="$BUILD/trainer_$(basename "${src%.cpp}").o"
    tobjs+=("$obj")
    g++ $CXXFLAGS -c "$path" -o "$obj" >>"$LOG" 2>&1 &
    tpids+=($!)
    while (($(jobs -rp | wc -l) >= JOBS)); do sleep 0.5; done
  done
  tok=1
  for p in "${tpids[@]}"; do wait "$p" || tok=0; done
  gen_objs=()
  for o in "${objs[@]}"; do [[ "$o" == */gpu_check_main.o ]] || gen_objs+=("$o"); done
  if ((tok)) && g++ -o "$BUILD/trainer_check" "${tobjs[@]}" "${gen_objs[@]}" -L"$TORCH_LIBDIR" \
    -Wl,--no-as-needed $TORCH_LIBS -Wl,--as-needed -Wl,-rpath,"$TORCH_LIBDIR" $OMP_LINK -lz -lpthread \
    >>"$LOG" 2>&1; then
    say "running the trainer check"
    "$BUILD/trainer_check" "$OUT/trainer_check.json" >"$OUT/trainer_stdout.json" 2>>"$LOG" ||
      say "trainer check exited with an error (see $LOG)"
  else
    tail -30 "$LOG" >&2
    say "trainer check did not build (see $LOG)"
  fi
  "$PYTHON" - "$OUT" <<'EOF' 2>>"$LOG"
import json, os, sys
out = sys.argv[1]
path = os.path.join(out, "gpu_check_summary.json")
summary = json.load(open(path)) if os.path.exists(path) else {"checks": {}}
try:
    trainer = json.load(open(os.path.join(out, "trainer_check.json")))
except Exception as e:
    trainer = {"checks": {"trainer/run": {"ok": False, "error": str(e)}}}
summary["checks"].update(trainer["checks"])
summary["trainer"] = trainer.get("info", {})
summary["ok"] = all(c["ok"] for c in summary["checks"].values())
json.dump(summary, open(path, "w"), indent=2)
print(json.dumps({"ok": summary["ok"],
                  "failed": [k for k, c in summary["checks"].items() if not c["ok"]]}))
raise SystemExit(0 if summary["ok"] else 1)
EOF
  tstatus=$?
  ((status == 0)) && status=$tstatus
fi
say "summary: $OUT/gpu_check_summary.json"
exit $status
