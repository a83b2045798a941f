// Generation throughput of the built-in engine on random Llama models (vocab 32000,
// untied) of the shapes S/M/L at batch 1, 4 and 16, with 1 and 2 intra-op threads.
// Baselines measured in the same run: the same engine without a KV cache (batch 1), the
// same engine decoding through LibTorch eager operators instead of the hand-written CPU path
// (EngineOptions::cpu_decode = false, same batch; --no-eager skips it), and batch 1 with a
// cache for the batch-4/16 aggregate. One JSON line per configuration; the machine's load
// average at the start of the configuration goes with it (the project's machines are
// shared: compare ratios within one line).
//
//   bench_generate [--shapes S,M,L] [--batches 1,4,16] [--threads 1,2] [--new-tokens 64]
//                  [--prompt-len 8] [--no-cache-tokens 32] [--repeat 1] [--no-eager]
//
// --repeat N measures every configuration N times and reports the median (the machines are
// shared, and a single run of S takes milliseconds).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/json.h"
#include "generator/engine.h"
#include "generator/model.h"

using namespace dstc;
using namespace dstc::generator;

namespace {

struct Shape {
  const char* name;
  int64_t hidden, intermediate, layers, heads;
  double llama2c_tokens_per_s;  // run.c, 2 threads, batch 1, this machine (issue 5)
};
const Shape kShapes[] = {
    {"S", 128, 344, 4, 4, 1032}, {"M", 512, 1376, 8, 8, 94}, {"L", 768, 2048, 12, 12, 40}};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

double measure_once(LocalEngine& engine, int64_t batch, int64_t prompt_len, int64_t new_tokens) {
  std::vector<Prompt> prompts;
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<int32_t> ids;
    for (int64_t t = 0; t < prompt_len; ++t)
      ids.push_back(static_cast<int32_t>(1 + (b * 131 + t * 17) % 31999));
    prompts.push_back(Prompt::from_ids(ids));
  }
  SamplingParams p;
  p.temperature = 1.0;
  p.seed = 1;
  p.ignore_eos = true;
  p.max_new_tokens = new_tokens;
  auto out = engine.generate(prompts, p);
  if (!out) {
    std::fprintf(stderr, "bench_generate: %s\n", out.error().message().c_str());
    std::exit(1);
  }
  return engine.last_stats().tokens_per_s();
}

int g_repeat = 1;

// The median of g_repeat measurements.
double measure(LocalEngine& engine, int64_t batch, int64_t prompt_len, int64_t new_tokens) {
  std::vector<double> runs;
  for (int r = 0; r < g_repeat; ++r)
    runs.push_back(measure_once(engine, batch, prompt_len, new_tokens));
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

double load_average() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> shapes = {"S", "M", "L"};
  std::vector<int64_t> batches = {1, 4, 16};
  std::vector<int> threads = {1, 2};
  int64_t new_tokens = 64, prompt_len = 8, no_cache_tokens = 32;
  bool eager = true;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--no-eager") {
      eager = false;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_generate: %s needs a value\n", k.c_str());
      return 2;
    }
    std::string v = argv[++i];
    if (k == "--shapes") {
      shapes = split(v);
    } else if (k == "--batches") {
      batches.clear();
      for (auto& s : split(v)) batches.push_back(std::stoll(s));
    } else if (k == "--threads") {
      threads.clear();
      for (auto& s : split(v)) threads.push_back(std::stoi(s));
    } else if (k == "--new-tokens") {
      new_tokens = std::stoll(v);
    } else if (k == "--prompt-len") {
      prompt_len = std::stoll(v);
    } else if (k == "--repeat") {
      g_repeat = std::max(1, std::stoi(v));
    } else if (k == "--no-cache-tokens") {
      no_cache_tokens = std::stoll(v);
    } else {
      std::fprintf(stderr, "bench_generate: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  for (const Shape& s : kShapes) {
    if (std::find(shapes.begin(), shapes.end(), s.name) == shapes.end()) continue;
    ModelConfig c;
    c.vocab_size = 32000;
    c.hidden_size = s.hidden;
    c.intermediate_size = s.intermediate;
    c.num_hidden_layers = s.layers;
    c.num_attention_heads = s.heads;
    c.num_key_value_heads = s.heads;
    c.head_dim = s.hidden / s.heads;
    CausalLM model(c);
    init_random(*model, 42);
    model->eval();
    int64_t params = 0;
    for (const auto& p : model->parameters()) params += p.numel();
    for (int t : threads) {
      EngineOptions eo;
      eo.num_threads = t;
      eo.max_batch = 64;
      auto engine = LocalEngine::from_model(model.ptr(), eo);
      eo.cpu_decode = false;
      auto eager_engine = LocalEngine::from_model(model.ptr(), eo);
      eo.cpu_decode = true;
      eo.use_cache = false;
      auto no_cache = LocalEngine::from_model(model.ptr(), eo);
      measure_once(*engine, 1, prompt_len, 8);  // warm-up
      if (eager) measure_once(*eager_engine, 1, prompt_len, 8);
      const double base_nc = measure(*no_cache, 1, prompt_len, no_cache_tokens);
      double batch1 = 0;
      for (int64_t b : batches) {
        const double load = load_average();
        const double tps = measure(*engine, b, prompt_len, new_tokens);
        const double eager_tps = eager ? measure(*eager_engine, b, prompt_len, new_tokens) : 0;
        if (b == 1) batch1 = tps;
        Json j = {{"bench", "generate"},
                  {"shape", s.name},
                  {"parameters", params},
                  {"batch", b},
                  {"threads", t},
                  {"prompt_len", prompt_len},
                  {"new_tokens", new_tokens},
                  {"tokens_per_s", tps},
                  {"no_cache_batch1_tokens_per_s", base_nc},
                  {"speedup_vs_no_cache_batch1", base_nc > 0 ? tps / base_nc : 0.0},
                  {"llama2c_batch1_tokens_per_s", s.llama2c_tokens_per_s},
                  {"ratio_vs_llama2c", tps / s.llama2c_tokens_per_s}};
        if (b != 1 && batch1 > 0) j["aggregate_vs_batch1"] = tps / batch1;
        if (eager) {
          j["eager_tokens_per_s"] = eager_tps;
          j["speedup_vs_eager"] = eager_tps > 0 ? tps / eager_tps : 0.0;
        }
        j["load_average"] = load;
        std::printf("%s\n", j.dump().c_str());
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
