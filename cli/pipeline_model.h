// The model side of `dstc run`: sampling text from a checkpoint (local LibTorch engine
// or an OpenAI-compatible server) and one round of preference training. Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cli/run_config.h"
#include "common/error.h"
#include "common/json.h"
#include "store/store.h"

namespace dstc::cli {

struct SampleRequest {
  int64_t n = 1;
  double temperature = 0.0;  // 0 = greedy
  double top_p = 1.0;
  int64_t top_k = 0;
  int64_t max_new_tokens = 128;
  uint64_t seed = 0;
  std::vector<std::string> stop;
};

class SamplingModel {
 public:
  virtual ~SamplingModel() = default;
  // For each query, n completions (text after the query, stop strings excluded).
  virtual Result<std::vector<std::vector<std::string>>> sample(
      const std::vector<std::string>& queries, const SampleRequest& request) = 0;
  // Provenance stored with every sample: "local:<dir>@<hash of its weights>" or "openai:<url>".
  virtual std::string id() const = 0;
};

Result<std::unique_ptr<SamplingModel>> load_model(const RunConfig& config,
                                                  const std::string& model_dir);

// Trains `out_dir` from `policy_dir` on round `round`'s pairs (config.select.selector,
// or its KTO examples for loss = kto), as one committed unit ("train", "model"): done
// means out_dir holds a complete checkpoint. With a compare `variant` ("SELECTOR" or
// "SELECTOR:LOSS", compare.variants) it trains that selector's pairs with that loss
// instead, as unit ("train", "compare/<variant>"). Returns the training summary (final
// loss, reward accuracy/margins, steps, metrics path) as recorded in the store.
Result<Json> train_round(const RunConfig& config, store::Store& store, uint32_t round,
                         const std::string& initial_dir, const std::string& policy_dir,
                         const std::string& out_dir, const std::string& variant = "");

}  // namespace dstc::cli
