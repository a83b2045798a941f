#include "generator/text/tokenizer.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <mutex>
#include <queue>

#include "common/file.h"
#include "generator/text/regex.h"
#include "generator/text/unicode.h"

namespace dstc::generator {

namespace {

enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreStep {
  enum class Kind { kSplit, kByteLevel } kind = Kind::kSplit;
  std::optional<UnicodeRegex> regex;  // Split pattern, or GPT-2's for ByteLevel use_regex
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  bool add_prefix_space = false;
};

enum class DecodeStep { kByteLevel, kByteFallback, kFuse };

constexpr size_t kCacheMaxEntries = 1 << 17;
constexpr size_t kCacheMaxWordBytes = 256;
// Ids are vector indices; a corrupt file must not make us allocate gigabytes.
constexpr int64_t kMaxId = 1 << 24;

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

std::string escape_regex_literal(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && !(static_cast<unsigned char>(c) & 0x80)) {
      out += '\\';
    }
    out += c;
  }
  return out;
}

bool is_space_byte(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Applies a Split step to one piece; mirrors tokenizers' NormalizedString::split.
void split_piece(const PreStep& step, std::string_view piece, std::vector<std::string>& out) {
  std::vector<std::pair<std::pair<size_t, size_t>, bool>> spans;
  size_t last = 0;
  for (auto [b, e] : step.regex->find_all(piece)) {
    if (b > last) spans.push_back({{last, b}, step.invert});
    spans.push_back({{b, e}, !step.invert});
    last = e;
  }
  if (last < piece.size()) spans.push_back({{last, piece.size()}, step.invert});

  std::vector<std::pair<std::pair<size_t, size_t>, bool>> merged;
  bool previous_match = false;
  switch (step.behavior) {
    case SplitBehavior::kIsolated:
      merged = spans;
      break;
    case SplitBehavior::kRemoved:
      for (auto& s : spans) {
        if (!s.second) merged.push_back(s);
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (auto& s : spans) {
        if (s.second && !previous_match && !merged.empty()) {
          merged.back().first.second = s.first.second;
        } else {
          merged.push_back({s.first, false});
        }
        previous_match = s.second;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->second && !previous_match && !merged.empty()) {
          merged.back().first.first = it->first.first;
        } else {
          merged.push_back({it->first, false});
        }
        previous_match = it->second;
      }
      std::reverse(merged.begin(), merged.end());
      break;
    case SplitBehavior::kContiguous:
      for (size_t i = 0; i < spans.size(); ++i) {
        if (i > 0 && spans[i].second == previous_match) {
          merged.back().first.second = spans[i].first.second;
        } else {
          merged.push_back(spans[i]);
        }
        previous_match = spans[i].second;
      }
      break;
  }
  for (auto& s : merged) {
    if (s.first.second > s.first.first) {
      out.emplace_back(piece.substr(s.first.first, s.first.second - s.first.first));
    }
  }
}

Result<SplitBehavior> parse_behavior(const std::string& name) {
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return fail(ErrorCode::kCorrupt, "unknown Split behavior '" + name + "'");
}

bool get_bool(const Json& obj, const char* key, bool fallback) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// Lets the word cache be searched with a string_view, without building a key string.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct Tokenizer::Impl {
  std::unordered_map<std::string, int32_t> vocab;  // the BPE model's vocab
  std::vector<std::string> id_to_token;            // model vocab and added tokens
  std::vector<uint8_t> known;                      // 1 where id_to_token is set
  std::vector<int8_t> added_index;                 // 0 none, 1 added, 2 added+special
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;  // (a,b) -> (rank, merged)
  std::vector<std::pair<int32_t, int32_t>> merge_list;               // by rank
  std::vector<NormalForm> normalizers;
  std::vector<PreStep> pre;
  bool byte_level = false;
  std::array<int32_t, 256> byte_ids{};
  bool ignore_merges = false;
  bool byte_fallback = false;
  bool fuse_unk = false;
  std::optional<int32_t> unk_id;
  std::string unk_token;
  std::vector<int32_t> post_prefix, post_suffix;
  std::vector<DecodeStep> decoders;
  bool has_decoder = false;
  Json normalizer_json, pre_tokenizer_json, post_processor_json, decoder_json;
  // Added-token candidates by first byte, longest first.
  std::array<std::vector<size_t>, 256> added_by_byte;

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache;
  // Each id's bytes after the decoder chain, computed once at load.
  std::vector<std::string> decoded;
  // Set when the pre-tokenizer is one Isolated regex split (GPT-2, Llama 3, Qwen2 and
  // trained files): pieces are then views into the text, with no copies.
  const UnicodeRegex* single_regex = nullptr;

  void set_token(int32_t id, const std::string& token) {
    if (static_cast<size_t>(id) >= id_to_token.size()) {
      id_to_token.resize(id + 1);
      known.resize(id + 1, 0);
      added_index.resize(id + 1, 0);
    }
    id_to_token[id] = token;
    known[id] = 1;
  }

  bool is_known(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < known.size() && known[id];
  }

  // BPE on one pre-token. `raw` is the piece before the byte-level map.
  void bpe(std::string_view raw, std::vector<int32_t>& out) const;
  // The initial symbols of a piece (one per byte-level character).
  void initial_symbols(std::string_view raw, std::vector<int32_t>& symbols) const;
  std::string map_piece(std::string_view raw) const {
    if (!byte_level) return std::string(raw);
    const auto& table = byte_to_unicode();
    std::string mapped;
    mapped.reserve(raw.size() * 2);
    for (unsigned char c : raw) mapped += table[c];
    return mapped;
  }
  // Applies the decoder chain to one token string, appending raw bytes.
  void decode_token(const std::string& token, std::string& bytes) const;
};

void Tokenizer::Impl::initial_symbols(std::string_view raw, std::vector<int32_t>& symbols) const {
  auto push_unknown = [&](std::string_view chr) {
    if (byte_fallback) {
      bool all = true;
      std::vector<int32_t> ids;
      for (unsigned char c : chr) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", c);
        auto it = vocab.find(name);
        if (it == vocab.end()) {
          all = false;
          break;
        }
        ids.push_back(it->second);
      }
      if (all) {
        symbols.insert(symbols.end(), ids.begin(), ids.end());
        return;
      }
    }
    if (unk_id) {
      if (fuse_unk && !symbols.empty() && symbols.back() == *unk_id) return;
      symbols.push_back(*unk_id);
    }
    // With neither byte fallback nor unk, HF drops the character; so do we.
  };
  if (byte_level) {
    const auto& table = byte_to_unicode();
    for (unsigned char c : raw) {
      if (byte_ids[c] >= 0) {
        symbols.push_back(byte_ids[c]);
      } else {
        push_unknown(table[c]);
      }
    }
    return;
  }
  for (size_t pos = 0; pos < raw.size();) {
    size_t start = pos;
    next_code_point(raw, pos);
    std::string_view chr = raw.substr(start, pos - start);
    auto it = vocab.find(std::string(chr));
    if (it != vocab.end()) {
      symbols.push_back(it->second);
    } else {
      push_unknown(chr);
    }
  }
}

// Lowest-rank-first merging over a linked list with a heap, ties to the leftmost pair:
// the order tokenizers' word.rs uses (equivalent to OpenAI's encoder.py loop).
void Tokenizer::Impl::bpe(std::string_view raw, std::vector<int32_t>& out) const {
  if (ignore_merges) {
    auto it = vocab.find(map_piece(raw));
    if (it != vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = raw.size() <= kCacheMaxWordBytes;
  if (cacheable) {
    std::lock_guard lock(cache_mutex);
    auto it = cache.find(raw);
    if (it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }

  std::vector<int32_t> ids;
  initial_symbols(raw, ids);
  const int n = static_cast<int>(ids.size());
  if (n > 1) {
    std::vector<int> prev(n), next(n);
    std::vector<uint8_t> alive(n, 1);
    for (int i = 0; i < n; ++i) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    struct Cand {
      int32_t rank;
      int pos;
      int32_t left, right;
      bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
    auto consider = [&](int pos) {
      int nx = next[pos];
      if (pos < 0 || nx < 0) return;
      auto it = merges.find(pair_key(ids[pos], ids[nx]));
      if (it != merges.end()) heap.push({it->second.first, pos, ids[pos], ids[nx]});
    };
    for (int i = 0; i + 1 < n; ++i) consider(i);
    while (!heap.empty()) {
      Cand c = heap.top();
      heap.pop();
      int nx = next[c.pos];
      if (!alive[c.pos] || nx < 0 || ids[c.pos] != c.left || ids[nx] != c.right) continue;
      ids[c.pos] = merges.at(pair_key(c.left, c.right)).second;
      alive[nx] = 0;
      next[c.pos] = next[nx];
      if (next[nx] >= 0) prev[next[nx]] = c.pos;
      if (prev[c.pos] >= 0) consider(prev[c.pos]);
      consider(c.pos);
    }
    std::vector<int32_t> merged;
    for (int i = 0; i >= 0; i = next[i]) merged.push_back(ids[i]);
    ids.swap(merged);
  }
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard lock(cache_mutex);
    if (cache.size() >= kCacheMaxEntries) cache.clear();
    cache.emplace(std::string(raw), std::move(ids));
  }
}

void Tokenizer::Impl::decode_token(const std::string& token, std::string& bytes) const {
  if (decoders.empty()) {
    bytes += token;
    return;
  }
  std::string cur = token;
  for (DecodeStep step : decoders) {
    switch (step) {
      case DecodeStep::kByteLevel: {
        // As tokenizers' byte_level.rs: map every character back to its byte; a token
        // with any character outside the alphabet is kept as its own UTF-8 bytes.
        std::string mapped;
        bool ok = true;
        for (size_t pos = 0; pos < cur.size();) {
          int b = unicode_to_byte(next_code_point(cur, pos));
          if (b < 0) {
            ok = false;
            break;
          }
          mapped += static_cast<char>(b);
        }
        if (ok) cur.swap(mapped);
        break;
      }
      case DecodeStep::kByteFallback:
        if (cur.size() == 6 && cur.compare(0, 3, "<0x") == 0 && cur[5] == '>') {
          cur = std::string(1, static_cast<char>(std::stoi(cur.substr(3, 2), nullptr, 16)));
        }
        break;
      case DecodeStep::kFuse:
        break;  // joining is what the caller does anyway
    }
  }
  bytes += cur;
}

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Result<Tokenizer> Tokenizer::from_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::string file = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) file = (fs::path(path) / "tokenizer.json").string();
  DSTC_TRY(std::string text, read_maybe_gzip(file));
  auto tok = from_json_text(text, file);
  if (!tok) return fail(std::move(tok).error());
  fs::path config = fs::path(file).parent_path() / "tokenizer_config.json";
  if (fs::exists(config, ec)) {
    DSTC_TRY(std::string config_text, read_file(config.string()));
    DSTC_TRY(Json config_json, parse_json(config_text, config.string()));
    if (auto s = tok->apply_config(config_json); !s) {
      return fail(std::move(s).error().context(config.string()));
    }
  }
  fs::path generation = fs::path(file).parent_path() / "generation_config.json";
  if (fs::exists(generation, ec)) {
    DSTC_TRY(std::string gen_text, read_file(generation.string()));
    DSTC_TRY(Json gen_json, parse_json(gen_text, generation.string()));
    if (auto s = tok->apply_generation_config(gen_json); !s) {
      return fail(std::move(s).error().context(generation.string()));
    }
  }
  return tok;
}

Status Tokenizer::apply_generation_config(const Json& config) {
  auto it = config.find("eos_token_id");
  if (it == config.end() || it->is_null()) return {};
  std::vector<Json> values = it->is_array() ? it->get<std::vector<Json>>() : std::vector<Json>{*it};
  for (const Json& v : values) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= vocab_size()) {
      return fail(ErrorCode::kCorrupt, "eos_token_id " + v.dump() +
                                           " is not a token id of this tokenizer (vocab size " +
                                           std::to_string(vocab_size()) + ")");
    }
    generation_eos_.push_back(v.get<int32_t>());
  }
  return {};
}

std::vector<int32_t> Tokenizer::stop_ids() const {
  std::vector<int32_t> ids;
  if (eos_id_) ids.push_back(*eos_id_);
  for (int32_t id : generation_eos_) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  return ids;
}

Result<Tokenizer> Tokenizer::from_json_text(std::string_view json_text, std::string_view source) {
  DSTC_TRY(Json root, parse_json(json_text, source));
  // A field of the wrong type or a missing nested key throws in nlohmann; report it as
  // a corrupt file rather than letting it escape the module.
  try {
    return from_json(root, source);
  } catch (const nlohmann::json::exception& e) {
    return fail(ErrorCode::kCorrupt, std::string(source) + ": " + e.what());
  }
}

Result<Tokenizer> Tokenizer::from_json(const Json& root, std::string_view source) {
  const std::string src(source);
  auto bad = [&](const std::string& what) { return fail(ErrorCode::kCorrupt, src + ": " + what); };
  if (!root.is_object()) return bad("not a JSON object");
  Tokenizer tok;
  Impl& im = *tok.impl_;

  // Model.
  auto model_it = root.find("model");
  if (model_it == root.end() || !model_it->is_object()) return bad("missing object 'model'");
  const Json& model = *model_it;
  if (model.contains("type") && model["type"] != "BPE") {
    return bad("model.type " + model["type"].dump() + " is not supported (only BPE)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty()) {
      return bad(std::string("model.") + key + " is not supported (must be empty or null)");
    }
  }
  if (model.contains("dropout") && model["dropout"].is_number() &&
      model["dropout"].get<double>() > 0) {
    return bad("model.dropout > 0 is not supported (training-time BPE dropout)");
  }
  im.ignore_merges = get_bool(model, "ignore_merges", false);
  im.byte_fallback = get_bool(model, "byte_fallback", false);
  im.fuse_unk = get_bool(model, "fuse_unk", false);
  auto vocab_it = model.find("vocab");
  if (vocab_it == model.end() || !vocab_it->is_object()) return bad("missing object 'model.vocab'");
  im.vocab.reserve(vocab_it->size());
  for (auto it = vocab_it->begin(); it != vocab_it->end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() >= kMaxId) {
      return bad("model.vocab['" + it.key() + "'] is not a valid id: " + it.value().dump());
    }
    int32_t id = it.value().get<int32_t>();
    im.vocab.emplace(it.key(), id);
    im.set_token(id, it.key());
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    im.unk_token = model["unk_token"].get<std::string>();
    auto it = im.vocab.find(im.unk_token);
    if (it == im.vocab.end())
      return bad("model.unk_token '" + im.unk_token + "' is not in the vocab");
    im.unk_id = it->second;
  }
  auto merges_it = model.find("merges");
  if (merges_it == model.end() || !merges_it->is_array())
    return bad("missing array 'model.merges'");
  im.merges.reserve(merges_it->size() * 2);
  im.merge_list.reserve(merges_it->size());
  for (size_t rank = 0; rank < merges_it->size(); ++rank) {
    const Json& m = (*merges_it)[rank];
    std::string a, b;
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t space = s.find(' ');
      if (space == std::string::npos)
        return bad("model.merges[" + std::to_string(rank) + "] '" + s + "' has no space");
      a = s.substr(0, space);
      b = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      return bad("model.merges[" + std::to_string(rank) + "] is neither \"a b\" nor [a, b]");
    }
    auto ia = im.vocab.find(a), ib = im.vocab.find(b), iab = im.vocab.find(a + b);
    if (ia == im.vocab.end() || ib == im.vocab.end() || iab == im.vocab.end()) {
      return bad("model.merges[" + std::to_string(rank) + "] (" + a + ", " + b +
                 "): a token is not in the vocab");
    }
    // A repeated pair keeps its first (lowest) rank, as in HF.
    im.merges.emplace(pair_key(ia->second, ib->second),
                      std::make_pair(static_cast<int32_t>(rank), iab->second));
    im.merge_list.emplace_back(ia->second, ib->second);
  }

  // Added tokens.
  if (auto it = root.find("added_tokens"); it != root.end() && it->is_array()) {
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& t = (*it)[i];
      auto content = json_string(t, "content");
      auto id = json_int(t, "id");
      if (!content || !id || *id < 0 || *id >= kMaxId)
        return bad("added_tokens[" + std::to_string(i) + "] needs 'id' and 'content'");
      if (content->empty()) return bad("added_tokens[" + std::to_string(i) + "] has empty content");
      AddedToken a;
      a.id = static_cast<int32_t>(*id);
      a.content = *content;
      a.special = get_bool(t, "special", false);
      a.lstrip = get_bool(t, "lstrip", false);
      a.rstrip = get_bool(t, "rstrip", false);
      a.single_word = get_bool(t, "single_word", false);
      a.normalized = get_bool(t, "normalized", !a.special);
      im.set_token(a.id, a.content);
      im.added_index[a.id] = a.special ? 2 : 1;
      tok.added_.push_back(std::move(a));
    }
  }
  for (size_t i = 0; i < tok.added_.size(); ++i) {
    im.added_by_byte[static_cast<unsigned char>(tok.added_[i].content[0])].push_back(i);
  }
  for (auto& list : im.added_by_byte) {
    std::stable_sort(list.begin(), list.end(), [&](size_t x, size_t y) {
      return tok.added_[x].content.size() > tok.added_[y].content.size();
    });
  }

  // Normalizer.
  if (auto it = root.find("normalizer"); it != root.end() && !it->is_null()) {
    im.normalizer_json = *it;
    std::vector<const Json*> steps;
    if ((*it).value("type", "") == "Sequence") {
      for (const Json& n : it->at("normalizers")) steps.push_back(&n);
    } else {
      steps.push_back(&*it);
    }
    for (const Json* n : steps) {
      std::string type = n->value("type", "");
      if (type == "NFC")
        im.normalizers.push_back(NormalForm::kNfc);
      else if (type == "NFD")
        im.normalizers.push_back(NormalForm::kNfd);
      else if (type == "NFKC")
        im.normalizers.push_back(NormalForm::kNfkc);
      else if (type == "NFKD")
        im.normalizers.push_back(NormalForm::kNfkd);
      else
        return bad("normalizer type '" + type +
                   "' is not supported (NFC, NFD, NFKC, NFKD, Sequence)");
    }
    if (!im.normalizers.empty()) {
      // Fail at load, not in the middle of encode, when utf8proc is missing.
      if (auto probe = normalize("\xC3\xA9", im.normalizers[0]); !probe) {
        return fail(std::move(probe).error().context(src));
      }
    }
  }

  // Pre-tokenizer.
  if (auto it = root.find("pre_tokenizer"); it != root.end() && !it->is_null()) {
    im.pre_tokenizer_json = *it;
    std::vector<const Json*> steps;
    if ((*it).value("type", "") == "Sequence") {
      for (const Json& p : it->at("pretokenizers")) steps.push_back(&p);
    } else {
      steps.push_back(&*it);
    }
    for (const Json* p : steps) {
      std::string type = p->value("type", "");
      PreStep step;
      if (type == "Split") {
        const Json& pattern = p->at("pattern");
        std::string regex;
        if (pattern.contains("Regex"))
          regex = pattern.at("Regex").get<std::string>();
        else if (pattern.contains("String"))
          regex = escape_regex_literal(pattern.at("String").get<std::string>());
        else
          return bad("pre_tokenizer Split needs pattern.Regex or pattern.String");
        auto compiled = UnicodeRegex::compile(regex);
        if (!compiled)
          return fail(std::move(compiled).error().context(src + ": pre_tokenizer Split"));
        step.regex = std::move(*compiled);
        DSTC_TRY(step.behavior, parse_behavior(p->value("behavior", "Isolated")));
        step.invert = get_bool(*p, "invert", false);
      } else if (type == "ByteLevel") {
        step.kind = PreStep::Kind::kByteLevel;
        step.add_prefix_space = get_bool(*p, "add_prefix_space", true);
        if (get_bool(*p, "use_regex", true)) {
          auto compiled = UnicodeRegex::compile(kGpt2SplitPattern);
          if (!compiled) return fail(std::move(compiled).error());
          step.regex = std::move(*compiled);
        }
        im.byte_level = true;
      } else {
        return bad("pre_tokenizer type '" + type +
                   "' is not supported (Split, ByteLevel, Sequence)");
      }
      im.pre.push_back(std::move(step));
    }
  }
  im.byte_ids.fill(-1);
  if (im.byte_level) {
    const auto& table = byte_to_unicode();
    for (int b = 0; b < 256; ++b) {
      auto it = im.vocab.find(table[b]);
      if (it != im.vocab.end()) im.byte_ids[b] = it->second;
    }
  }

  // Post-processor.
  if (auto it = root.find("post_processor"); it != root.end() && !it->is_null()) {
    im.post_processor_json = *it;
    std::vector<const Json*> steps;
    if ((*it).value("type", "") == "Sequence") {
      for (const Json& p : it->at("processors")) steps.push_back(&p);
    } else {
      steps.push_back(&*it);
    }
    for (const Json* p : steps) {
      std::string type = p->value("type", "");
      if (type == "ByteLevel") continue;  // offsets only; ids unchanged
      if (type != "TemplateProcessing") {
        return bad("post_processor type '" + type +
                   "' is not supported (ByteLevel, TemplateProcessing, Sequence)");
      }
      bool seen_sequence = false;
      for (const Json& item : p->at("single")) {
        if (item.contains("Sequence")) {
          seen_sequence = true;
          continue;
        }
        if (!item.contains("SpecialToken"))
          return bad("post_processor TemplateProcessing: unknown item " + item.dump());
        std::string name = item.at("SpecialToken").value("id", "");
        const Json& specials = p->at("special_tokens");
        if (!specials.contains(name))
          return bad("post_processor: special token '" + name + "' not in special_tokens");
        for (const Json& id : specials.at(name).at("ids")) {
          (seen_sequence ? im.post_suffix : im.post_prefix).push_back(id.get<int32_t>());
        }
      }
    }
  }

  // Decoder.
  if (auto it = root.find("decoder"); it != root.end() && !it->is_null()) {
    im.decoder_json = *it;
    im.has_decoder = true;
    std::vector<const Json*> steps;
    if ((*it).value("type", "") == "Sequence") {
      for (const Json& d : it->at("decoders")) steps.push_back(&d);
    } else {
      steps.push_back(&*it);
    }
    for (const Json* d : steps) {
      std::string type = d->value("type", "");
      if (type == "ByteLevel")
        im.decoders.push_back(DecodeStep::kByteLevel);
      else if (type == "ByteFallback")
        im.decoders.push_back(DecodeStep::kByteFallback);
      else if (type == "Fuse")
        im.decoders.push_back(DecodeStep::kFuse);
      else
        return bad("decoder type '" + type +
                   "' is not supported (ByteLevel, ByteFallback, Fuse, Sequence)");
    }
  }

  im.decoded.resize(im.id_to_token.size());
  for (size_t id = 0; id < im.id_to_token.size(); ++id) {
    if (im.known[id]) im.decode_token(im.id_to_token[id], im.decoded[id]);
  }
  // The one-regex fast path.
  if (im.pre.size() == 1 && im.pre[0].kind == PreStep::Kind::kByteLevel &&
      !im.pre[0].add_prefix_space && im.pre[0].regex) {
    im.single_regex = &*im.pre[0].regex;
  } else if (im.pre.size() == 2 && im.pre[0].kind == PreStep::Kind::kSplit &&
             im.pre[0].behavior == SplitBehavior::kIsolated && !im.pre[0].invert &&
             im.pre[1].kind == PreStep::Kind::kByteLevel && !im.pre[1].add_prefix_space &&
             !im.pre[1].regex) {
    im.single_regex = &*im.pre[0].regex;
  }

  // Without a config, guess EOS from the usual special-token names.
  for (const char* name : {"<|endoftext|>", "<|end_of_text|>", "</s>", "<|im_end|>"}) {
    if (tok.eos_id_) break;
    for (const auto& a : tok.added_) {
      if (a.special && a.content == name) tok.eos_id_ = a.id;
    }
  }
  return tok;
}

Status Tokenizer::resolve_config_token(const Json& config, const char* key,
                                       std::optional<int32_t>& out) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return {};
  std::string content;
  if (it->is_string())
    content = it->get<std::string>();
  else if (it->is_object() && it->contains("content"))
    content = it->at("content").is_string() ? it->at("content").get<std::string>() : "";
  else
    return fail(ErrorCode::kCorrupt,
                std::string("field '") + key + "' must be a string or {\"content\": ...}");
  auto id = token_to_id(content);
  if (!id) {
    return fail(ErrorCode::kCorrupt, std::string("field '") + key + "' names token '" + content +
                                         "', which is not in tokenizer.json");
  }
  out = *id;
  return {};
}

Status Tokenizer::apply_config(const Json& config) {
  try {
    return apply_config_impl(config);
  } catch (const nlohmann::json::exception& e) {
    return fail(ErrorCode::kCorrupt, std::string("tokenizer config: ") + e.what());
  }
}

Status Tokenizer::apply_config_impl(const Json& config) {
  if (!config.is_object())
    return fail(ErrorCode::kCorrupt, "tokenizer config is not a JSON object");
  DSTC_CHECK_OK(resolve_config_token(config, "bos_token", bos_id_));
  DSTC_CHECK_OK(resolve_config_token(config, "eos_token", eos_id_));
  DSTC_CHECK_OK(resolve_config_token(config, "pad_token", pad_id_));
  if (auto it = config.find("chat_template"); it != config.end()) {
    if (it->is_string()) {
      chat_template_ = it->get<std::string>();
    } else if (it->is_array()) {
      // Newer files: [{"name": "default", "template": ...}, ...]
      for (const Json& t : *it) {
        if (t.value("name", "") == "default") chat_template_ = t.value("template", "");
      }
    }
  }
  return {};
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const Impl& im = *impl_;
  std::string clean = sanitize_utf8(text);
  std::vector<int32_t> out = add_special ? im.post_prefix : std::vector<int32_t>{};

  auto encode_segment = [&](std::string_view seg) {
    if (seg.empty()) return;
    std::string norm(seg);
    for (NormalForm f : im.normalizers) {
      auto n = normalize(norm, f);
      if (n) norm = std::move(*n);  // the load-time probe makes failure impossible
    }
    if (im.single_regex != nullptr) {
      // Pieces between matches would be kept by Isolated too; these regexes leave none,
      // but keep them for exactness.
      size_t last = 0;
      for (auto [b, e] : im.single_regex->find_all(norm)) {
        if (b > last) im.bpe(std::string_view(norm).substr(last, b - last), out);
        im.bpe(std::string_view(norm).substr(b, e - b), out);
        last = e;
      }
      if (last < norm.size()) im.bpe(std::string_view(norm).substr(last), out);
      return;
    }
    std::vector<std::string> pieces{std::move(norm)}, next;
    for (const PreStep& step : im.pre) {
      next.clear();
      for (std::string& p : pieces) {
        if (step.kind == PreStep::Kind::kByteLevel) {
          if (step.add_prefix_space && !p.empty() && p[0] != ' ') p.insert(0, " ");
          if (step.regex) {
            split_piece(step, p, next);  // Isolated, not inverted
          } else {
            next.push_back(std::move(p));
          }
        } else {
          split_piece(step, p, next);
        }
      }
      pieces.swap(next);
    }
    for (const std::string& p : pieces) {
      if (!p.empty()) im.bpe(p, out);
    }
  };

  // Added tokens are cut out of the raw text first (leftmost, then longest).
  size_t seg_start = 0, i = 0;
  const size_t n = clean.size();
  while (i < n) {
    const AddedToken* match = nullptr;
    for (size_t idx : im.added_by_byte[static_cast<unsigned char>(clean[i])]) {
      const AddedToken& a = added_[idx];
      if (!parse_special && a.special) continue;
      if (clean.compare(i, a.content.size(), a.content) != 0) continue;
      if (a.single_word) {
        auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
        size_t end = i + a.content.size();
        if ((i > 0 && word(clean[i - 1])) || (end < n && word(clean[end]))) continue;
      }
      match = &a;
      break;
    }
    if (match == nullptr) {
      ++i;
      continue;
    }
    size_t begin = i, end = i + match->content.size();
    if (match->lstrip) {
      while (begin > seg_start && is_space_byte(clean[begin - 1])) --begin;
    }
    if (match->rstrip) {
      while (end < n && is_space_byte(clean[end])) ++end;
    }
    encode_segment(std::string_view(clean).substr(seg_start, begin - seg_start));
    out.push_back(match->id);
    seg_start = i = end;
  }
  encode_segment(std::string_view(clean).substr(seg_start));
  if (add_special) out.insert(out.end(), im.post_suffix.begin(), im.post_suffix.end());
  return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  const Impl& im = *impl_;
  if (!im.is_known(id)) return {};
  return im.decoded[id];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  const Impl& im = *impl_;
  std::string bytes;
  bool first = true;
  for (int32_t id : ids) {
    if (!im.is_known(id)) {
      bytes += "\xEF\xBF\xBD";
      continue;
    }
    if (skip_special && im.added_index[id] == 2) continue;
    // Without a decoder, HF joins the token strings with spaces.
    if (!im.has_decoder && !first) bytes += ' ';
    bytes += im.decoded[id];
    first = false;
  }
  return sanitize_utf8(bytes);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (!impl_->is_known(id)) return std::nullopt;
  return impl_->id_to_token[id];
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  for (const auto& a : added_) {
    if (a.content == token) return a.id;
  }
  auto it = impl_->vocab.find(std::string(token));
  if (it == impl_->vocab.end()) return std::nullopt;
  return it->second;
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->id_to_token.size()); }

size_t Tokenizer::token_count() const {
  return static_cast<size_t>(std::count(impl_->known.begin(), impl_->known.end(), 1));
}

bool Tokenizer::is_special(int32_t id) const {
  return impl_->is_known(id) && impl_->added_index[id] == 2;
}

std::string Tokenizer::to_json_text() const {
  const Impl& im = *impl_;
  using OJson = nlohmann::ordered_json;
  OJson root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  OJson added = OJson::array();
  for (const auto& a : added_) {
    added.push_back({{"id", a.id},
                     {"content", a.content},
                     {"single_word", a.single_word},
                     {"lstrip", a.lstrip},
                     {"rstrip", a.rstrip},
                     {"normalized", a.normalized},
                     {"special", a.special}});
  }
  root["added_tokens"] = added;
  auto section = [](const Json& j) {
    return j.is_null() ? OJson(nullptr) : OJson::parse(j.dump());
  };
  root["normalizer"] = section(im.normalizer_json);
  root["pre_tokenizer"] = section(im.pre_tokenizer_json);
  root["post_processor"] = section(im.post_processor_json);
  root["decoder"] = section(im.decoder_json);
  OJson model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = im.unk_id ? OJson(im.unk_token) : OJson(nullptr);
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["fuse_unk"] = im.fuse_unk;
  model["byte_fallback"] = im.byte_fallback;
  model["ignore_merges"] = im.ignore_merges;
  // vocab and merges are written by hand: ordered_json's object insert is a linear
  // search, quadratic over 150k entries.
  std::vector<std::pair<int32_t, const std::string*>> by_id;
  by_id.reserve(im.vocab.size());
  for (const auto& [token, id] : im.vocab) by_id.emplace_back(id, &token);
  std::sort(by_id.begin(), by_id.end());
  std::string text = model.dump();
  text.pop_back();  // reopen the model object
  text += ",\"vocab\":{";
  for (size_t i = 0; i < by_id.size(); ++i) {
    if (i) text += ',';
    text += Json(*by_id[i].second).dump();
    text += ':';
    text += std::to_string(by_id[i].first);
  }
  text += "},\"merges\":[";
  for (size_t i = 0; i < im.merge_list.size(); ++i) {
    if (i) text += ',';
    text += '[';
    text += Json(im.id_to_token[im.merge_list[i].first]).dump();
    text += ',';
    text += Json(im.id_to_token[im.merge_list[i].second]).dump();
    text += ']';
  }
  text += "]}";
  std::string out = root.dump();
  out.pop_back();
  out += ",\"model\":" + text + "}";
  return out;
}

Status Tokenizer::save(const std::string& path) const {
  return write_file_atomic(path, to_json_text());
}

std::string StreamDecoder::push(int32_t id) {
  if (skip_special_ && tokenizer_->is_special(id)) return {};
  if (!tokenizer_->id_to_token(id)) {
    pending_ += "\xEF\xBF\xBD";
  } else {
    pending_ += tokenizer_->token_bytes(id);
  }
  // Keep back a trailing lead byte whose continuation bytes have not arrived yet.
  size_t keep = 0;
  for (size_t back = 1; back <= 3 && back <= pending_.size(); ++back) {
    auto c = static_cast<unsigned char>(pending_[pending_.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (need > back) keep = back;
    break;
  }
  std::string out = sanitize_utf8(std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out = sanitize_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace dstc::generator
