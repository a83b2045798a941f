#include "cli/run_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <variant>

#include "common/file.h"

namespace dstc::cli {
namespace {

using FieldRef = std::variant<int64_t*, double*, std::string*, bool*, std::vector<std::string>*>;

struct Field {
  const char* section;
  const char* key;
  FieldRef ref;
  const char* doc;
};

// The single list of config keys: parsing, unknown-key errors, dumping and diffs all
// walk it, so a key added here is handled everywhere.
std::vector<Field> fields_of(RunConfig& c) {
  return {
      {"run", "name", &c.run.name, "run directory: ./runs/<name> unless --run-dir"},
      {"run", "rounds", &c.run.rounds, "DSTC rounds: generate, execute, select, train, evaluate"},
      {"run", "seed", &c.run.seed, "every random choice derives from it"},
      {"model", "path", &c.model.path, "HF checkpoint folder, relative to this file's folder"},
      {"model", "backend", &c.model.backend, "local (LibTorch engine) or openai (vLLM, SGLang)"},
      {"model", "url", &c.model.url, "openai backend: the server's base URL"},
      {"model", "device", &c.model.device, "cpu or cuda"},
      {"model", "dtype", &c.model.dtype, "auto = float32 on CPU, bfloat16 on CUDA"},
      {"model", "threads", &c.model.threads, "intra-op threads of the engine and trainer"},
      {"model", "max_batch", &c.model.max_batch, "sequences decoded together"},
      {"model", "prompt_format", &c.model.prompt_format,
       "how prompts are asked: auto, toy, plain, chatml, llama3, deepseek-coder"},
      {"data", "train", &c.data.train, "toy (built-in task world) or a JSONL prompt file"},
      {"data", "train_count", &c.data.train_count, "training prompts per round"},
      {"data", "eval", &c.data.eval, "toy (held-out toy tasks) or a benchmark file"},
      {"data", "eval_count", &c.data.eval_count, "held-out tasks scored before and after"},
      {"data", "eval_benchmark", &c.data.eval_benchmark,
       "a data.eval file's benchmark: auto (by name), humaneval, mbpp, mbpp-sanitized"},
      {"generate", "codes", &c.generate.codes, "J: solutions sampled per prompt"},
      {"generate", "tests", &c.generate.tests, "K: tests sampled per prompt"},
      {"generate", "temperature", &c.generate.temperature, "sampling temperature"},
      {"generate", "top_p", &c.generate.top_p, "nucleus sampling mass"},
      {"generate", "top_k", &c.generate.top_k, "0 = off"},
      {"generate", "max_new_tokens", &c.generate.max_new_tokens, "per sample"},
      {"execute", "profile", &c.execute.profile, "sandbox profile: strict or bigcodebench"},
      {"execute", "timeout", &c.execute.timeout, "seconds per code+test program"},
      {"execute", "parallel", &c.execute.parallel, "concurrent sandbox runs; 0 = all cores"},
      {"execute", "servers", &c.execute.servers, "dstc serve sandbox URLs; empty = local"},
      {"select", "selector", &c.select.selector,
       "pairs to train on: dstc, code-only, maxmin, random, codet, oracle"},
      {"select", "ablations", &c.select.ablations, "selectors also built and audited"},
      {"select", "skip_same_code", &c.select.skip_same_code,
       "skip prompts whose rejected code is the chosen code"},
      {"select", "relabel", &c.select.relabel, "none or reward-augmented"},
      {"train", "loss", &c.train.loss, "dpo, cdpo, ipo, kto, rpo or selm"},
      {"train", "beta", &c.train.beta, "KL strength"},
      {"train", "lr", &c.train.lr, "peak learning rate (AdamW)"},
      {"train", "epochs", &c.train.epochs, "passes over the round's pairs"},
      {"train", "batch_size", &c.train.batch_size, "pairs per micro-batch"},
      {"train", "grad_accum", &c.train.grad_accum, "micro-batches per optimizer step"},
      {"train", "reference", &c.train.reference,
       "initial (the run's first model) or previous (the round's input model)"},
      {"train", "lora_rank", &c.train.lora_rank, "0 = full fine-tuning"},
      {"compare", "variants", &c.compare.variants,
       "also trained on the same matrices and scored: selector or selector:loss"},
      {"eval", "n", &c.eval.n, "samples per task"},
      {"eval", "temperature", &c.eval.temperature, "0 = greedy"},
      {"eval", "max_new_tokens", &c.eval.max_new_tokens, "per sample"},
  };
}

std::string type_name(const FieldRef& ref) {
  return std::visit(
      [](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, int64_t>) return "an integer";
        if constexpr (std::is_same_v<T, double>) return "a number";
        if constexpr (std::is_same_v<T, std::string>) return "a string";
        if constexpr (std::is_same_v<T, bool>) return "true or false";
        return "an array of strings";
      },
      ref);
}

// Stores node's value into the field; false when the TOML type does not fit.
bool assign(const toml::node& node, const FieldRef& ref) {
  return std::visit(
      [&](auto* p) -> bool {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          if (auto v = node.value_exact<int64_t>()) return *p = *v, true;
        } else if constexpr (std::is_same_v<T, double>) {
          if (auto v = node.value<double>(); v && (node.is_floating_point() || node.is_integer())) {
            return *p = *v, true;
          }
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (auto v = node.value_exact<std::string>()) return *p = *v, true;
        } else if constexpr (std::is_same_v<T, bool>) {
          if (auto v = node.value_exact<bool>()) return *p = *v, true;
        } else {
          const toml::array* arr = node.as_array();
          if (!arr) return false;
          std::vector<std::string> out;
          for (const auto& item : *arr) {
            auto s = item.value_exact<std::string>();
            if (!s) return false;
            out.push_back(*s);
          }
          *p = std::move(out);
          return true;
        }
        return false;
      },
      ref);
}

std::string toml_value(const FieldRef& ref) {
  return std::visit(
      [](auto* p) -> std::string {
        using T = std::remove_pointer_t<decltype(p)>;
        std::ostringstream out;
        if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          toml::array arr;
          for (const auto& s : *p) arr.push_back(s);
          out << arr;
        } else if constexpr (std::is_same_v<T, double>) {
          out << toml::value<double>(*p);
        } else {
          out << toml::value<T>(*p);
        }
        return out.str();
      },
      ref);
}

Status validate(const RunConfig& c, const std::string& source) {
  auto bad = [&](const std::string& key, const std::string& why) {
    return fail(ErrorCode::kInvalidArgument, source + ": " + key + " " + why);
  };
  if (c.run.rounds < 1) return bad("run.rounds", "must be at least 1");
  if (c.model.backend != "local" && c.model.backend != "openai") {
    return bad("model.backend", "must be \"local\" or \"openai\", not \"" + c.model.backend + "\"");
  }
  if (c.model.backend == "openai" && c.model.url.empty()) {
    return bad("model.url", "is required with backend = \"openai\"");
  }
  auto one_of = [](const std::string& v, std::initializer_list<const char*> allowed) {
    for (const char* a : allowed) {
      if (v == a) return true;
    }
    return false;
  };
  if (!one_of(c.model.prompt_format,
              {"auto", "toy", "plain", "chatml", "llama3", "deepseek-coder"})) {
    return bad("model.prompt_format",
               "must be auto, toy, plain, chatml, llama3 or deepseek-coder, not \"" +
                   c.model.prompt_format + "\"");
  }
  if (!one_of(c.data.eval_benchmark, {"auto", "humaneval", "mbpp", "mbpp-sanitized"})) {
    return bad("data.eval_benchmark", "must be auto, humaneval, mbpp or mbpp-sanitized, not \"" +
                                          c.data.eval_benchmark + "\"");
  }
  if (c.generate.codes < 1 || c.generate.tests < 1) {
    return bad("generate.codes/tests", "must both be at least 1");
  }
  if (c.generate.temperature < 0) return bad("generate.temperature", "must be >= 0");
  if (c.generate.top_p <= 0 || c.generate.top_p > 1)
    return bad("generate.top_p", "must be in (0, 1]");
  if (c.execute.timeout <= 0) return bad("execute.timeout", "must be > 0");
  if (c.train.reference != "initial" && c.train.reference != "previous") {
    return bad("train.reference", "must be \"initial\" or \"previous\"");
  }
  if (c.select.relabel != "none" && c.select.relabel != "reward-augmented") {
    return bad("select.relabel", "must be \"none\" or \"reward-augmented\"");
  }
  if (c.train.batch_size < 1 || c.train.grad_accum < 1 || c.train.epochs < 1) {
    return bad("train.batch_size/grad_accum/epochs", "must be at least 1");
  }
  if (c.eval.n < 1) return bad("eval.n", "must be at least 1");
  for (const auto& v : c.compare.variants) {
    auto [selector, loss] = split_variant(v);
    if (selector != c.select.selector &&
        std::find(c.select.ablations.begin(), c.select.ablations.end(), selector) ==
            c.select.ablations.end()) {
      return bad("compare.variants", "\"" + v + "\": selector '" + selector +
                                         "' is neither select.selector nor in select.ablations");
    }
    if (!one_of(loss.empty() ? c.train.loss : loss, {"dpo", "cdpo", "ipo", "kto", "rpo", "selm"})) {
      return bad("compare.variants",
                 "\"" + v + "\": unknown loss '" + loss + "' (dpo, cdpo, ipo, kto, rpo, selm)");
    }
    if (std::count(c.compare.variants.begin(), c.compare.variants.end(), v) > 1) {
      return bad("compare.variants", "lists \"" + v + "\" twice");
    }
  }
  return {};
}

}  // namespace

std::pair<std::string, std::string> split_variant(const std::string& variant) {
  size_t colon = variant.find(':');
  if (colon == std::string::npos) return {variant, ""};
  return {variant.substr(0, colon), variant.substr(colon + 1)};
}

Result<RunConfig> parse_run_config(const std::string& text, const std::string& source) {
  // Debian's toml++ is built with exceptions: its parse errors are caught here.
  toml::table parsed;
  try {
    parsed = toml::parse(text, source);
  } catch (const toml::parse_error& err) {
    return fail(ErrorCode::kInvalidArgument, source + ":" +
                                                 std::to_string(err.source().begin.line) + ": " +
                                                 std::string(err.description()));
  }
  RunConfig config;
  auto fields = fields_of(config);
  for (const auto& [section_key, section_node] : parsed) {
    std::string section(section_key.str());
    const toml::table* table = section_node.as_table();
    std::vector<std::string> known;
    for (const auto& f : fields) {
      if (section == f.section) known.push_back(f.key);
    }
    if (known.empty() || !table) {
      return fail(
          ErrorCode::kInvalidArgument,
          source + ": unknown section '" + section +
              "' (sections: run, model, data, generate, execute, select, train, compare, eval)");
    }
    for (const auto& [key_node, value] : *table) {
      std::string key(key_node.str());
      auto it = std::find_if(fields.begin(), fields.end(),
                             [&](const Field& f) { return section == f.section && key == f.key; });
      if (it == fields.end()) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        return fail(ErrorCode::kInvalidArgument, source + ": unknown key '" + section + "." + key +
                                                     "' (keys of [" + section + "]: " + list + ")");
      }
      if (!assign(value, it->ref)) {
        return fail(ErrorCode::kInvalidArgument,
                    source + ": " + section + "." + key + " must be " + type_name(it->ref));
      }
    }
  }
  DSTC_CHECK_OK(validate(config, source));
  return config;
}

Result<RunConfig> load_run_config(const std::string& path) {
  DSTC_TRY(std::string text, read_file(path));
  DSTC_TRY(RunConfig config, parse_run_config(text, path));
  config.base_dir = std::filesystem::absolute(path).parent_path().string();
  return config;
}

Result<RunConfig> default_run_config() {
  DSTC_TRY(RunConfig config,
           parse_run_config(embedded_default_config(), "embedded configs/toy.toml"));
  config.base_dir = DSTC_SOURCE_DIR "/configs";
  return config;
}

std::string dump_run_config(const RunConfig& config) {
  RunConfig copy = config;
  std::ostringstream out;
  std::string section;
  for (const auto& f : fields_of(copy)) {
    if (section != f.section) {
      section = f.section;
      out << (out.tellp() > 0 ? "\n" : "") << "[" << section << "]\n";
    }
    out << f.key << " = " << toml_value(f.ref) << "  # " << f.doc << "\n";
  }
  return out.str();
}

std::vector<std::string> diff_run_configs(const RunConfig& stored, const RunConfig& current) {
  RunConfig a = stored, b = current;
  auto fa = fields_of(a), fb = fields_of(b);
  std::vector<std::string> out;
  for (size_t i = 0; i < fa.size(); ++i) {
    std::string va = toml_value(fa[i].ref), vb = toml_value(fb[i].ref);
    if (va != vb)
      out.push_back(std::string(fa[i].section) + "." + fa[i].key + ": " + va + " -> " + vb);
  }
  return out;
}

}  // namespace dstc::cli
