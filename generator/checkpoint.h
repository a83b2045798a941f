// Hugging Face checkpoints without LibTorch: config.json for LlamaForCausalLM and
// Qwen2ForCausalLM, safetensors files (mmap reader that validates the untrusted header,
// and a writer), sharded checkpoints through model.safetensors.index.json, and the list
// of tensors a config implies. The model (generator/model.h) turns these into tensors.
//
// Formats follow huggingface/safetensors (safetensors/src/tensor.rs) and transformers'
// configuration_{llama,qwen2}.py; see ../shared/research/engines.md §1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace dstc::generator {

enum class Arch { kLlama, kQwen2 };
std::string_view arch_name(Arch arch);  // "llama", "qwen2"

// Storage dtypes this project reads and writes. Anything else in a file is an error.
enum class DType { kF32, kF16, kBF16 };
std::string_view dtype_name(DType dtype);  // "F32", "F16", "BF16"
size_t dtype_size(DType dtype);
Result<DType> parse_dtype(std::string_view name);  // safetensors spelling

struct RopeScaling {
  std::string type;  // "" (none) or "llama3"; other HF types are rejected at parse time
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

// The config.json fields the model uses (engines.md §1.3).
struct ModelConfig {
  Arch arch = Arch::kLlama;
  int64_t vocab_size = 32000;
  int64_t hidden_size = 512;
  int64_t intermediate_size = 1376;
  int64_t num_hidden_layers = 8;
  int64_t num_attention_heads = 8;
  int64_t num_key_value_heads = 8;
  int64_t head_dim = 64;  // config "head_dim", else hidden / heads
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v(/o for Llama) biases; Qwen2 always has q/k/v biases
  bool mlp_bias = false;
  int64_t bos_token_id = -1;            // -1: none
  std::vector<int64_t> eos_token_ids;   // config "eos_token_id", an int or a list
  std::string torch_dtype = "float32";  // informational; safetensors headers decide

  bool qkv_bias() const { return arch == Arch::kQwen2 || attention_bias; }
  bool o_bias() const { return arch == Arch::kLlama && attention_bias; }

  // Parses a config.json object. `source` names the file in errors:
  // "config.json: field 'hidden_size' must be an integer, got string".
  static Result<ModelConfig> from_json(const Json& j, std::string_view source = "config.json");
  // HF layout (transformers v4: rope_theta + rope_scaling{rope_type}), loadable by transformers.
  Json to_json() const;
  // Checks shapes are consistent (heads divide, positive sizes); names the field.
  Status validate() const;
};

Result<ModelConfig> read_config(const std::string& model_dir);
Status write_config(const std::string& model_dir, const ModelConfig& config);

// Every tensor a checkpoint of `config` must hold, with its HF name and shape
// (PyTorch [out, in] for linear weights). lm_head.weight is absent when tied.
std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors(
    const ModelConfig& config);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the data buffer
  uint64_t end = 0;
  int64_t numel() const;
};

// A read-only memory-mapped .safetensors file. open() validates the whole header
// (length, UTF-8 JSON, no duplicate names, dtypes, sizes = numel × dtype with overflow
// checks, ranges contiguous from 0 without gaps or overlaps, no trailing bytes), so
// data() never points outside the mapping. Move-only; the mapping lives as long as it.
class SafetensorsFile {
 public:
  static Result<std::unique_ptr<SafetensorsFile>> open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* find(std::string_view name) const;
  // Start of the tensor's bytes; may be misaligned for its dtype (copy before use).
  const std::byte* data(const TensorInfo& info) const { return data_ + info.begin; }

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const std::byte* data_ = nullptr;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> by_name_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: raw little-endian bytes of numel(shape) × dtype_size(dtype).
struct TensorBytes {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
};

// Writes a .safetensors file atomically (tmp + rename): compact JSON header padded with
// spaces to a multiple of 8, tensors in name order, __metadata__ {"format": "pt"} plus `metadata`.
Status write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                         const std::map<std::string, std::string>& metadata = {});

// Converts one stored element run to float32 (exact for BF16 and F16).
void convert_to_f32(DType dtype, const std::byte* src, size_t numel, float* dst);
// float32 → BF16 with round-to-nearest-even, as torch does (NaN stays NaN).
uint16_t f32_to_bf16(float value);
uint16_t f32_to_f16(float value);

// A model folder: config.json plus model.safetensors or model.safetensors.index.json
// with its shards. Tensor lookups name the file they come from.
class Checkpoint {
 public:
  static Result<Checkpoint> open(const std::string& model_dir);

  const std::string& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }
  struct Entry {
    const SafetensorsFile* file;
    const TensorInfo* info;
  };
  // Error: "tiny/model.safetensors: missing tensor 'model.norm.weight'".
  Result<Entry> tensor(std::string_view name) const;
  // Checks that every expected tensor exists once with the expected shape and a
  // supported dtype; extra tensors (e.g. rotary_emb.inv_freq) are ignored.
  Status check_complete() const;
  std::vector<std::string> tensor_names() const;
  // Sum of tensor bytes over all files.
  uint64_t total_bytes() const;

 private:
  std::string dir_;
  ModelConfig config_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<size_t, const TensorInfo*>, std::less<>> index_;
  std::string weights_desc_;  // "model.safetensors" or "model.safetensors.index.json"
};

}  // namespace dstc::generator
