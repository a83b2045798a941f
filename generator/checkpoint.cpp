#include "generator/checkpoint.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/file.h"

namespace dstc::generator {
namespace fs = std::filesystem;

std::string_view arch_name(Arch arch) { return arch == Arch::kLlama ? "llama" : "qwen2"; }

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
  }
  return "?";
}

size_t dtype_size(DType dtype) { return dtype == DType::kF32 ? 4 : 2; }

Result<DType> parse_dtype(std::string_view name) {
  if (name == "F32") return DType::kF32;
  if (name == "F16") return DType::kF16;
  if (name == "BF16") return DType::kBF16;
  return fail(ErrorCode::kCorrupt,
              "unsupported dtype '" + std::string(name) + "' (supported: F32, F16, BF16)");
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// ---------------------------------------------------------------------------------------
// config.json

namespace {

Result<int64_t> int_field(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return fail(ErrorCode::kCorrupt, std::string("missing field '") + key + "'");
  if (!it->is_number_integer())
    return fail(ErrorCode::kCorrupt,
                std::string("field '") + key + "' must be an integer, got " + it->type_name());
  return it->get<int64_t>();
}

Result<double> num_field(const Json& j, const char* key, double fallback, bool required = false) {
  auto it = j.find(key);
  if (it == j.end() || (!required && it->is_null())) {
    if (required) return fail(ErrorCode::kCorrupt, std::string("missing field '") + key + "'");
    return fallback;
  }
  if (!it->is_number())
    return fail(ErrorCode::kCorrupt,
                std::string("field '") + key + "' must be a number, got " + it->type_name());
  return it->get<double>();
}

Result<bool> bool_field(const Json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean())
    return fail(ErrorCode::kCorrupt,
                std::string("field '") + key + "' must be a boolean, got " + it->type_name());
  return it->get<bool>();
}

Result<ModelConfig> parse_config(const Json& j) {
  if (!j.is_object()) return fail(ErrorCode::kCorrupt, "expected a JSON object");
  ModelConfig c;
  // Architecture: "architectures" first, "model_type" as the fallback.
  std::string arch;
  if (auto it = j.find("architectures"); it != j.end() && it->is_array() && !it->empty()) {
    if (!(*it)[0].is_string())
      return fail(ErrorCode::kCorrupt, "field 'architectures' must hold strings");
    arch = (*it)[0].get<std::string>();
    if (arch == "LlamaForCausalLM") {
      c.arch = Arch::kLlama;
    } else if (arch == "Qwen2ForCausalLM") {
      c.arch = Arch::kQwen2;
    } else {
      return fail(ErrorCode::kCorrupt, "architectures: unsupported '" + arch +
                                           "' (supported: LlamaForCausalLM, Qwen2ForCausalLM)");
    }
  } else if (auto mt = j.find("model_type"); mt != j.end() && mt->is_string()) {
    arch = mt->get<std::string>();
    if (arch == "llama") {
      c.arch = Arch::kLlama;
    } else if (arch == "qwen2") {
      c.arch = Arch::kQwen2;
    } else {
      return fail(ErrorCode::kCorrupt,
                  "model_type: unsupported '" + arch + "' (supported: llama, qwen2)");
    }
  } else {
    return fail(ErrorCode::kCorrupt, "missing field 'architectures' (or 'model_type')");
  }
  if (auto act = j.find("hidden_act"); act != j.end() && !act->is_null()) {
    if (!act->is_string() || act->get<std::string>() != "silu")
      return fail(ErrorCode::kCorrupt, "hidden_act: only 'silu' is supported, got " + act->dump());
  }

  DSTC_TRY(c.vocab_size, int_field(j, "vocab_size"));
  DSTC_TRY(c.hidden_size, int_field(j, "hidden_size"));
  DSTC_TRY(c.intermediate_size, int_field(j, "intermediate_size"));
  DSTC_TRY(c.num_hidden_layers, int_field(j, "num_hidden_layers"));
  DSTC_TRY(c.num_attention_heads, int_field(j, "num_attention_heads"));
  c.num_key_value_heads = c.num_attention_heads;
  if (auto it = j.find("num_key_value_heads"); it != j.end() && !it->is_null()) {
    DSTC_TRY(c.num_key_value_heads, int_field(j, "num_key_value_heads"));
  }
  if (c.num_attention_heads <= 0)
    return fail(ErrorCode::kCorrupt, "field 'num_attention_heads' must be positive");
  c.head_dim = c.hidden_size / c.num_attention_heads;
  if (auto it = j.find("head_dim"); it != j.end() && !it->is_null()) {
    DSTC_TRY(c.head_dim, int_field(j, "head_dim"));
  }
  c.max_position_embeddings = 2048;
  if (auto it = j.find("max_position_embeddings"); it != j.end() && !it->is_null()) {
    DSTC_TRY(c.max_position_embeddings, int_field(j, "max_position_embeddings"));
  }
  DSTC_TRY(c.rms_norm_eps, num_field(j, "rms_norm_eps", 1e-6));

  // RoPE: transformers v4 (rope_theta + rope_scaling) or newer (rope_parameters).
  const Json* rope = nullptr;
  if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) rope = &*it;
  if (auto it = j.find("rope_parameters"); it != j.end() && !it->is_null()) rope = &*it;
  c.rope_theta = 10000.0;
  if (rope && rope->contains("rope_theta")) {
    DSTC_TRY(c.rope_theta, num_field(*rope, "rope_theta", 10000.0));
  } else {
    DSTC_TRY(c.rope_theta, num_field(j, "rope_theta", 10000.0));
  }
  if (rope) {
    if (!rope->is_object())
      return fail(ErrorCode::kCorrupt, "field 'rope_scaling' must be an object");
    std::string type;
    if (auto t = rope->find("rope_type"); t != rope->end() && t->is_string()) {
      type = t->get<std::string>();
    } else if (auto t2 = rope->find("type"); t2 != rope->end() && t2->is_string()) {
      type = t2->get<std::string>();
    }
    if (type == "llama3") {
      c.rope_scaling.type = "llama3";
      auto with = [&](const char* k, double fb, double& out) -> Status {
        auto v = num_field(*rope, k, fb, /*required=*/true);
        if (!v) return fail(std::move(v).error().context("rope_scaling"));
        out = *v;
        return {};
      };
      DSTC_CHECK_OK(with("factor", 8.0, c.rope_scaling.factor));
      DSTC_CHECK_OK(with("low_freq_factor", 1.0, c.rope_scaling.low_freq_factor));
      DSTC_CHECK_OK(with("high_freq_factor", 4.0, c.rope_scaling.high_freq_factor));
      double orig = 0;
      DSTC_CHECK_OK(with("original_max_position_embeddings", 8192, orig));
      c.rope_scaling.original_max_position_embeddings = static_cast<int64_t>(orig);
    } else if (!type.empty() && type != "default") {
      return fail(ErrorCode::kCorrupt, "rope_scaling: unsupported rope_type '" + type +
                                           "' (supported: default, llama3)");
    }
  }
  DSTC_TRY(c.tie_word_embeddings, bool_field(j, "tie_word_embeddings", false));
  DSTC_TRY(c.attention_bias, bool_field(j, "attention_bias", false));
  DSTC_TRY(c.mlp_bias, bool_field(j, "mlp_bias", false));
  if (c.arch == Arch::kQwen2) {
    DSTC_TRY(bool sliding, bool_field(j, "use_sliding_window", false));
    if (sliding) return fail(ErrorCode::kCorrupt, "use_sliding_window: true is not supported");
  }
  if (auto it = j.find("bos_token_id"); it != j.end() && it->is_number_integer())
    c.bos_token_id = it->get<int64_t>();
  if (auto it = j.find("eos_token_id"); it != j.end()) {
    if (it->is_number_integer()) {
      c.eos_token_ids.push_back(it->get<int64_t>());
    } else if (it->is_array()) {
      for (const auto& e : *it) {
        if (!e.is_number_integer())
          return fail(ErrorCode::kCorrupt, "field 'eos_token_id' must hold integers");
        c.eos_token_ids.push_back(e.get<int64_t>());
      }
    }
  }
  if (auto it = j.find("torch_dtype"); it != j.end() && it->is_string())
    c.torch_dtype = it->get<std::string>();
  else if (auto d = j.find("dtype"); d != j.end() && d->is_string())
    c.torch_dtype = d->get<std::string>();
  DSTC_CHECK_OK(c.validate());
  return c;
}

}  // namespace

Status ModelConfig::validate() const {
  auto positive = [](int64_t v, const char* name) -> Status {
    if (v <= 0)
      return fail(ErrorCode::kCorrupt,
                  std::string("field '") + name + "' must be positive, got " + std::to_string(v));
    return {};
  };
  DSTC_CHECK_OK(positive(vocab_size, "vocab_size"));
  DSTC_CHECK_OK(positive(hidden_size, "hidden_size"));
  DSTC_CHECK_OK(positive(intermediate_size, "intermediate_size"));
  DSTC_CHECK_OK(positive(num_hidden_layers, "num_hidden_layers"));
  DSTC_CHECK_OK(positive(num_attention_heads, "num_attention_heads"));
  DSTC_CHECK_OK(positive(num_key_value_heads, "num_key_value_heads"));
  DSTC_CHECK_OK(positive(head_dim, "head_dim"));
  if (num_attention_heads % num_key_value_heads != 0)
    return fail(ErrorCode::kCorrupt, "num_attention_heads (" + std::to_string(num_attention_heads) +
                                         ") must be a multiple of num_key_value_heads (" +
                                         std::to_string(num_key_value_heads) + ")");
  if (head_dim % 2 != 0)
    return fail(ErrorCode::kCorrupt, "head_dim must be even, got " + std::to_string(head_dim));
  if (!(rms_norm_eps > 0)) return fail(ErrorCode::kCorrupt, "field 'rms_norm_eps' must be > 0");
  if (!(rope_theta > 0)) return fail(ErrorCode::kCorrupt, "field 'rope_theta' must be > 0");
  return {};
}

Result<ModelConfig> ModelConfig::from_json(const Json& j, std::string_view source) {
  auto c = parse_config(j);
  if (!c) return fail(std::move(c).error().context(source));
  return c;
}

Json ModelConfig::to_json() const {
  Json j;
  j["architectures"] = {arch == Arch::kLlama ? "LlamaForCausalLM" : "Qwen2ForCausalLM"};
  j["model_type"] = std::string(arch_name(arch));
  j["hidden_act"] = "silu";
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  j["head_dim"] = head_dim;
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  if (rope_scaling.type.empty()) {
    j["rope_scaling"] = nullptr;
  } else {
    j["rope_scaling"] = {
        {"rope_type", rope_scaling.type},
        {"factor", rope_scaling.factor},
        {"low_freq_factor", rope_scaling.low_freq_factor},
        {"high_freq_factor", rope_scaling.high_freq_factor},
        {"original_max_position_embeddings", rope_scaling.original_max_position_embeddings}};
  }
  j["tie_word_embeddings"] = tie_word_embeddings;
  if (arch == Arch::kLlama) {
    j["attention_bias"] = attention_bias;
    j["mlp_bias"] = mlp_bias;
  } else {
    j["use_sliding_window"] = false;
  }
  if (bos_token_id >= 0) j["bos_token_id"] = bos_token_id;
  if (eos_token_ids.size() == 1) {
    j["eos_token_id"] = eos_token_ids[0];
  } else if (!eos_token_ids.empty()) {
    j["eos_token_id"] = eos_token_ids;
  }
  j["torch_dtype"] = torch_dtype;
  j["use_cache"] = true;
  return j;
}

Result<ModelConfig> read_config(const std::string& model_dir) {
  std::string path = (fs::path(model_dir) / "config.json").string();
  DSTC_TRY(std::string text, read_file(path));
  DSTC_TRY(Json j, parse_json(text, path));
  return ModelConfig::from_json(j, path);
}

Status write_config(const std::string& model_dir, const ModelConfig& config) {
  return write_file_atomic((fs::path(model_dir) / "config.json").string(),
                           config.to_json().dump(2) + "\n");
}

std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors(const ModelConfig& c) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  const int64_t q = c.num_attention_heads * c.head_dim;
  const int64_t kv = c.num_key_value_heads * c.head_dim;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    out.push_back({p + "input_layernorm.weight", {c.hidden_size}});
    out.push_back({p + "self_attn.q_proj.weight", {q, c.hidden_size}});
    out.push_back({p + "self_attn.k_proj.weight", {kv, c.hidden_size}});
    out.push_back({p + "self_attn.v_proj.weight", {kv, c.hidden_size}});
    if (c.qkv_bias()) {
      out.push_back({p + "self_attn.q_proj.bias", {q}});
      out.push_back({p + "self_attn.k_proj.bias", {kv}});
      out.push_back({p + "self_attn.v_proj.bias", {kv}});
    }
    out.push_back({p + "self_attn.o_proj.weight", {c.hidden_size, q}});
    if (c.o_bias()) out.push_back({p + "self_attn.o_proj.bias", {c.hidden_size}});
    out.push_back({p + "post_attention_layernorm.weight", {c.hidden_size}});
    out.push_back({p + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}});
    out.push_back({p + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}});
    out.push_back({p + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}});
    if (c.mlp_bias) {
      out.push_back({p + "mlp.gate_proj.bias", {c.intermediate_size}});
      out.push_back({p + "mlp.up_proj.bias", {c.intermediate_size}});
      out.push_back({p + "mlp.down_proj.bias", {c.hidden_size}});
    }
  }
  out.push_back({"model.norm.weight", {c.hidden_size}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}});
  return out;
}

// ---------------------------------------------------------------------------------------
// safetensors reader

namespace {

constexpr uint64_t kMaxHeaderSize = 100'000'000;  // as safetensors' MAX_HEADER_SIZE

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Result<TensorInfo> parse_tensor_entry(const std::string& name, const Json& v) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kCorrupt, "tensor '" + name + "': " + why);
  };
  if (!v.is_object()) return bad("header entry must be an object");
  TensorInfo t;
  t.name = name;
  auto dt = v.find("dtype");
  if (dt == v.end() || !dt->is_string()) return bad("missing string field 'dtype'");
  auto dtype = parse_dtype(dt->get<std::string>());
  if (!dtype) return bad(dtype.error().message());
  t.dtype = *dtype;
  auto sh = v.find("shape");
  if (sh == v.end() || !sh->is_array()) return bad("missing array field 'shape'");
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned()) return bad("shape must hold non-negative integers");
    uint64_t x = d.get<uint64_t>();
    if (x > (uint64_t{1} << 48)) return bad("shape dimension too large");
    t.shape.push_back(static_cast<int64_t>(x));
  }
  auto off = v.find("data_offsets");
  if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    return bad("'data_offsets' must be [begin, end] with non-negative integers");
  t.begin = (*off)[0].get<uint64_t>();
  t.end = (*off)[1].get<uint64_t>();
  if (t.end < t.begin) return bad("data_offsets end < begin");
  // bytes = numel * dtype size, with overflow checks.
  uint64_t n = 1;
  for (int64_t d : t.shape) {
    if (d != 0 && n > UINT64_MAX / static_cast<uint64_t>(d)) return bad("shape overflows");
    n *= static_cast<uint64_t>(d);
  }
  if (n > UINT64_MAX / dtype_size(t.dtype)) return bad("shape overflows");
  uint64_t bytes = n * dtype_size(t.dtype);
  if (t.end - t.begin != bytes)
    return bad("data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
               ") hold " + std::to_string(t.end - t.begin) + " bytes but " +
               std::string(dtype_name(t.dtype)) + " " + shape_str(t.shape) + " needs " +
               std::to_string(bytes));
  return t;
}

}  // namespace

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr && map_ != MAP_FAILED) munmap(map_, map_size_);
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path) {
  auto err = [&](ErrorCode code, const std::string& why) { return fail(code, path + ": " + why); };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return err(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo, std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return err(ErrorCode::kIo, std::strerror(e));
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    return err(ErrorCode::kCorrupt, "truncated: " + std::to_string(file_size) +
                                        " bytes, shorter than the 8-byte header length");
  }
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->map_size_ = file_size;
  f->map_ = mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  ::close(fd);
  if (f->map_ == MAP_FAILED) {
    f->map_ = nullptr;
    return err(ErrorCode::kIo, std::string("mmap: ") + std::strerror(map_errno));
  }
  const auto* base = static_cast<const std::byte*>(f->map_);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(base[i]) << (8 * i);  // little-endian
  if (n > kMaxHeaderSize)
    return err(ErrorCode::kCorrupt, "header length " + std::to_string(n) + " exceeds 100 MB");
  if (8 + n > file_size)
    return err(ErrorCode::kCorrupt, "truncated: header length " + std::to_string(n) +
                                        " exceeds the file size " + std::to_string(file_size));
  std::string_view header(reinterpret_cast<const char*>(base + 8), n);

  // Detect duplicate top-level keys (nlohmann keeps the last one silently).
  std::set<std::string> seen;
  std::string duplicate;
  Json j = Json::parse(
      header,
      [&](int depth, Json::parse_event_t event, Json& parsed) {
        if (depth == 1 && event == Json::parse_event_t::key) {
          auto key = parsed.get<std::string>();
          if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
        }
        return true;
      },
      /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return err(ErrorCode::kCorrupt, "header is not a valid JSON object");
  if (!duplicate.empty())
    return err(ErrorCode::kCorrupt, "duplicate tensor '" + duplicate + "' in header");

  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) return err(ErrorCode::kCorrupt, "__metadata__ must be an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string())
          return err(ErrorCode::kCorrupt, "__metadata__ value '" + m.key() + "' is not a string");
        f->metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    auto t = parse_tensor_entry(it.key(), *it);
    if (!t) return fail(std::move(t).error().context(path));
    f->tensors_.push_back(std::move(*t));
  }
  // Ranges sorted by begin must tile [0, data size) exactly.
  std::vector<const TensorInfo*> order;
  for (const auto& t : f->tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  const uint64_t data_size = file_size - 8 - n;
  uint64_t pos = 0;
  for (const TensorInfo* t : order) {
    if (t->begin < pos)
      return err(ErrorCode::kCorrupt, "tensor '" + t->name + "' overlaps the previous tensor");
    if (t->begin > pos)
      return err(ErrorCode::kCorrupt, "gap before tensor '" + t->name + "' (data_offsets begin " +
                                          std::to_string(t->begin) + ", expected " +
                                          std::to_string(pos) + ")");
    if (t->end > data_size)
      return err(ErrorCode::kCorrupt, "truncated: tensor '" + t->name + "' ends at byte " +
                                          std::to_string(t->end) + " of a " +
                                          std::to_string(data_size) + "-byte data buffer");
    pos = t->end;
  }
  if (pos != data_size)
    return err(ErrorCode::kCorrupt,
               std::to_string(data_size - pos) + " trailing bytes after the last tensor");
  f->data_ = base + 8 + n;
  for (size_t i = 0; i < f->tensors_.size(); ++i) f->by_name_[f->tensors_[i].name] = i;
  return f;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

// ---------------------------------------------------------------------------------------
// writer and conversions

Status write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorBytes*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const TensorBytes* a, const TensorBytes* b) { return a->name < b->name; });
  Json header = Json::object();
  Json meta = {{"format", "pt"}};
  for (const auto& [k, v] : metadata) meta[k] = v;
  header["__metadata__"] = meta;
  uint64_t offset = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const TensorBytes& t = *order[i];
    if (i > 0 && order[i - 1]->name == t.name)
      return fail(ErrorCode::kInvalidArgument, path + ": duplicate tensor '" + t.name + "'");
    uint64_t n = 1;
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    if (n * dtype_size(t.dtype) != t.nbytes)
      return fail(ErrorCode::kInternal, path + ": tensor '" + t.name + "' has " +
                                            std::to_string(t.nbytes) + " bytes for shape " +
                                            shape_str(t.shape));
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');
  std::string out;
  out.reserve(8 + h.size() + offset);
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += h;
  for (const TensorBytes* t : order) out.append(static_cast<const char*>(t->data), t->nbytes);
  return write_file_atomic(path, out);
}

namespace {
float f16_to_f32(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
}  // namespace

void convert_to_f32(DType dtype, const std::byte* src, size_t numel, float* dst) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, numel * 4);
      return;
    case DType::kBF16:
      for (size_t i = 0; i < numel; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        uint32_t bits = static_cast<uint32_t>(v) << 16;
        std::memcpy(dst + i, &bits, 4);
      }
      return;
    case DType::kF16:
      for (size_t i = 0; i < numel; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        dst[i] = f16_to_f32(v);
      }
      return;
  }
}

uint16_t f32_to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

uint16_t f32_to_f16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  uint32_t sign = (bits >> 16) & 0x8000u;
  int32_t exp = static_cast<int32_t>((bits >> 23) & 0xff);
  uint32_t mant = bits & 0x7fffffu;
  if (exp == 255) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0));
  int32_t e = exp - 127 + 15;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;
  return static_cast<uint16_t>(half);
}

// ---------------------------------------------------------------------------------------
// Checkpoint

Result<Checkpoint> Checkpoint::open(const std::string& model_dir) {
  Checkpoint c;
  c.dir_ = model_dir;
  if (!fs::is_directory(model_dir))
    return fail(ErrorCode::kNotFound, model_dir + ": not a model directory");
  DSTC_TRY(c.config_, read_config(model_dir));
  fs::path single = fs::path(model_dir) / "model.safetensors";
  fs::path index = fs::path(model_dir) / "model.safetensors.index.json";
  if (fs::exists(index)) {
    c.weights_desc_ = index.string();
    DSTC_TRY(std::string text, read_file(index.string()));
    DSTC_TRY(Json j, parse_json(text, index.string()));
    auto wm = j.find("weight_map");
    if (!j.is_object() || wm == j.end() || !wm->is_object())
      return fail(ErrorCode::kCorrupt, index.string() + ": missing object field 'weight_map'");
    std::map<std::string, size_t> shard_ids;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it->is_string())
        return fail(ErrorCode::kCorrupt,
                    index.string() + ": weight_map['" + it.key() + "'] must be a file name");
      std::string shard = it->get<std::string>();
      if (shard.find('/') != std::string::npos || shard == ".." || shard.empty())
        return fail(ErrorCode::kCorrupt, index.string() + ": bad shard name '" + shard + "'");
      if (!shard_ids.count(shard)) {
        auto f = SafetensorsFile::open((fs::path(model_dir) / shard).string());
        if (!f) return fail(std::move(f).error().context(index.string()));
        shard_ids[shard] = c.files_.size();
        c.files_.push_back(std::shared_ptr<SafetensorsFile>(std::move(*f)));
      }
      size_t id = shard_ids[shard];
      const TensorInfo* info = c.files_[id]->find(it.key());
      if (!info)
        return fail(ErrorCode::kCorrupt, c.files_[id]->path() + ": missing tensor '" + it.key() +
                                             "' listed in " + index.string());
      c.index_[it.key()] = {id, info};
    }
    // A tensor present in a shard but not in the map, or in two shards, is a mismatch.
    std::map<std::string, int> count;
    for (const auto& f : c.files_)
      for (const auto& t : f->tensors()) ++count[t.name];
    for (const auto& [name, n] : count) {
      if (n > 1)
        return fail(ErrorCode::kCorrupt, index.string() + ": tensor '" + name + "' appears in " +
                                             std::to_string(n) + " shards");
    }
  } else if (fs::exists(single)) {
    c.weights_desc_ = single.string();
    DSTC_TRY(auto f, SafetensorsFile::open(single.string()));
    c.files_.push_back(std::shared_ptr<SafetensorsFile>(std::move(f)));
    for (const auto& t : c.files_[0]->tensors()) c.index_[t.name] = {0, &t};
  } else {
    return fail(ErrorCode::kNotFound,
                model_dir + ": no model.safetensors or model.safetensors.index.json");
  }
  return c;
}

Result<Checkpoint::Entry> Checkpoint::tensor(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end())
    return fail(ErrorCode::kCorrupt,
                weights_desc_ + ": missing tensor '" + std::string(name) + "'");
  return Entry{files_[it->second.first].get(), it->second.second};
}

Status Checkpoint::check_complete() const {
  for (const auto& [name, shape] : expected_tensors(config_)) {
    DSTC_TRY(Entry e, tensor(name));
    if (e.info->shape != shape)
      return fail(ErrorCode::kCorrupt, e.file->path() + ": tensor '" + name + "' has shape " +
                                           shape_str(e.info->shape) + ", config.json implies " +
                                           shape_str(shape));
  }
  return {};
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : index_) out.push_back(name);
  return out;
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, e] : index_) total += e.second->end - e.second->begin;
  return total;
}

}  // namespace dstc::generator
