#include "trainer/data.h"

#include <algorithm>

#include "common/file.h"
#include "common/json.h"

namespace dstc::trainer {
namespace {

std::string where(const std::string& path, size_t line) {
  return path + ":" + std::to_string(line);
}

}  // namespace

Result<std::vector<PairText>> read_pairs_jsonl(const std::string& path) {
  DSTC_TRY(auto text, read_maybe_gzip(path));
  std::vector<PairText> out;
  auto st = for_each_jsonl(text, path, [&](size_t line, const Json& obj) -> Status {
    PairText p;
    p.source = where(path, line);
    for (auto [key, dst] : {std::pair{"prompt", &p.prompt}, std::pair{"chosen", &p.chosen},
                            std::pair{"rejected", &p.rejected}}) {
      auto v = json_string(obj, key);
      if (!v) return fail(v.error().context(p.source));
      *dst = std::move(*v);
    }
    if (obj.is_object() && obj.contains("reference_response")) {
      auto v = json_string(obj, "reference_response");
      if (!v) return fail(v.error().context(p.source));
      p.reference_response = std::move(*v);
    }
    out.push_back(std::move(p));
    return {};
  });
  if (!st) return fail(st.error());
  if (out.empty()) return fail(ErrorCode::kCorrupt, path + ": no pairs (empty file)");
  return out;
}

Result<std::vector<KtoText>> read_kto_jsonl(const std::string& path) {
  DSTC_TRY(auto text, read_maybe_gzip(path));
  std::vector<KtoText> out;
  auto st = for_each_jsonl(text, path, [&](size_t line, const Json& obj) -> Status {
    KtoText k;
    k.source = where(path, line);
    auto prompt = json_string(obj, "prompt");
    if (!prompt) return fail(prompt.error().context(k.source));
    auto completion = json_string(obj, "completion");
    if (!completion) return fail(completion.error().context(k.source));
    auto label = json_bool(obj, "label");
    if (!label) return fail(label.error().context(k.source));
    k.prompt = std::move(*prompt);
    k.completion = std::move(*completion);
    k.desirable = *label;
    out.push_back(std::move(k));
    return {};
  });
  if (!st) return fail(st.error());
  if (out.empty()) return fail(ErrorCode::kCorrupt, path + ": no examples (empty file)");
  return out;
}

Result<DataFormat> detect_jsonl_format(const std::string& path) {
  DSTC_TRY(auto text, read_maybe_gzip(path));
  std::optional<DataFormat> format;
  auto st = for_each_jsonl(text, path, [&](size_t line, const Json& obj) -> Status {
    if (format) return {};
    if (obj.is_object() && obj.contains("chosen")) {
      format = DataFormat::kPairs;
    } else if (obj.is_object() && obj.contains("completion")) {
      format = DataFormat::kKto;
    } else {
      return fail(ErrorCode::kCorrupt,
                  where(path, line) +
                      ": neither a DPO pair {prompt, chosen, rejected} nor a KTO example "
                      "{prompt, completion, label}");
    }
    return {};
  });
  if (!st) return fail(st.error());
  if (!format) return fail(ErrorCode::kCorrupt, path + ": empty file");
  return *format;
}

std::vector<KtoText> unpair(const std::vector<PairText>& pairs) {
  std::vector<KtoText> out;
  out.reserve(2 * pairs.size());
  for (const auto& p : pairs) {
    out.push_back({p.prompt, p.chosen, true, p.source + " (chosen)"});
    out.push_back({p.prompt, p.rejected, false, p.source + " (rejected)"});
  }
  return out;
}

void seeded_permutation(std::vector<size_t>& order, uint64_t seed) {
  uint64_t state = seed;
  auto next = [&state]() {  // splitmix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  for (size_t i = order.size(); i > 1; --i) {
    // Unbiased draw in [0, i) by rejection.
    const uint64_t bound = i;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do r = next();
    while (r >= limit);
    std::swap(order[i - 1], order[r % bound]);
  }
}

std::string DataStats::summary() const {
  return std::to_string(read) + " read, " + std::to_string(kept) +
         " kept; skipped: " + std::to_string(skipped_empty_completion) + " empty completion, " +
         std::to_string(skipped_long_prompt) + " prompt too long, " +
         std::to_string(skipped_identical) + " chosen == rejected; " +
         std::to_string(truncated_completions) + " completions truncated, " +
         std::to_string(boundary_merges) + " prompt/completion boundaries that merge under " +
         "joint tokenisation (tokenised separately)";
}

bool tokenize_one(const TextEncoder& enc, const TokenizeOptions& o, std::string_view prompt,
                  std::string_view completion, Sequence& out, DataStats& stats) {
  if (completion.empty()) {
    ++stats.skipped_empty_completion;
    return false;
  }
  std::vector<int32_t> p = enc.encode(prompt, true);
  std::vector<int32_t> c = enc.encode(completion, false);
  const int64_t room = o.max_length - static_cast<int64_t>(p.size());
  if (static_cast<int64_t>(p.size()) > o.max_prompt_length || room < 1) {
    ++stats.skipped_long_prompt;
    return false;
  }
  // Would TRL's joint tokenisation have shifted the mask here?
  std::string joint(prompt);
  joint.append(completion);
  std::vector<int32_t> j = enc.encode(joint, true);
  if (j.size() != p.size() + c.size() || !std::equal(p.begin(), p.end(), j.begin()) ||
      !std::equal(c.begin(), c.end(), j.begin() + static_cast<ptrdiff_t>(p.size()))) {
    ++stats.boundary_merges;
  }
  if (o.append_eos && enc.eos_id >= 0) c.push_back(enc.eos_id);
  if (static_cast<int64_t>(c.size()) > room) {
    c.resize(static_cast<size_t>(room));
    ++stats.truncated_completions;
  }
  out.prompt_len = static_cast<int64_t>(p.size());
  out.ids = std::move(p);
  out.ids.insert(out.ids.end(), c.begin(), c.end());
  return true;
}

std::vector<TokenizedPair> tokenize_pairs(const TextEncoder& enc, const TokenizeOptions& o,
                                          const std::vector<PairText>& pairs, DataStats& stats) {
  std::vector<TokenizedPair> out;
  for (const auto& p : pairs) {
    ++stats.read;
    if (!p.chosen.empty() && p.chosen == p.rejected) {
      ++stats.skipped_identical;
      continue;
    }
    TokenizedPair t;
    t.source = p.source;
    // Count one skip per pair, not one per side.
    DataStats local;
    bool ok = tokenize_one(enc, o, p.prompt, p.chosen, t.chosen, local) &&
              tokenize_one(enc, o, p.prompt, p.rejected, t.rejected, local);
    if (ok && !p.reference_response.empty()) {
      ok = tokenize_one(enc, o, p.prompt, p.reference_response, t.reference_response, local);
    }
    stats.skipped_empty_completion += std::min<size_t>(local.skipped_empty_completion, 1);
    stats.skipped_long_prompt += std::min<size_t>(local.skipped_long_prompt, 1);
    stats.truncated_completions += local.truncated_completions;
    stats.boundary_merges += local.boundary_merges;
    if (!ok) continue;
    ++stats.kept;
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<TokenizedKto> tokenize_kto(const TextEncoder& enc, const TokenizeOptions& o,
                                       const std::vector<KtoText>& examples, DataStats& stats) {
  std::vector<TokenizedKto> out;
  for (const auto& k : examples) {
    ++stats.read;
    TokenizedKto t;
    t.desirable = k.desirable;
    t.source = k.source;
    if (!tokenize_one(enc, o, k.prompt, k.completion, t.seq, stats)) continue;
    ++stats.kept;
    out.push_back(std::move(t));
  }
  return out;
}

Sequence mismatched(const Sequence& a, const Sequence& b, int64_t max_length) {
  Sequence s;
  s.prompt_len = a.prompt_len;
  s.ids.assign(a.ids.begin(), a.ids.begin() + a.prompt_len);
  auto c_begin = b.ids.begin() + b.prompt_len;
  const int64_t room = std::max<int64_t>(1, max_length - a.prompt_len);
  const int64_t take = std::min<int64_t>(room, b.completion_len());
  s.ids.insert(s.ids.end(), c_begin, c_begin + take);
  return s;
}

}  // namespace dstc::trainer
