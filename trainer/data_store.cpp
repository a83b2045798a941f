// The run-store readers of trainer/data.h, apart from the rest of the data code so that
// tokenisation, JSONL and the training loop build without RocksDB (scripts/gpu-check.sh
// compiles them against a GPU machine's PyTorch).
#include <filesystem>

#include "store/store.h"
#include "trainer/data.h"

namespace dstc::trainer {
namespace {

Result<int64_t> latest_round(const store::Store& st, store::Family family) {
  DSTC_TRY(auto stats, st.stats());
  auto it = stats.counts.find(std::string(store::family_name(family)));
  if (it == stats.counts.end() || it->second.empty()) {
    return fail(ErrorCode::kNotFound, "run store " + st.dir() + " holds no " +
                                          std::string(store::family_name(family)) +
                                          "; run the select stage first");
  }
  return it->second.rbegin()->first;
}

Result<std::unique_ptr<store::Store>> open_run(const std::string& run_dir) {
  store::StoreOptions so;
  so.create_if_missing = false;
  so.read_only = true;
  // A run directory of `dstc run` keeps its store in <run>/store; a bare store works too.
  std::string dir =
      std::filesystem::exists(run_dir + "/store/CURRENT") ? run_dir + "/store" : run_dir;
  auto st = store::Store::open(dir, so);
  if (!st) return fail(st.error().context("opening run store " + run_dir));
  return st;
}

}  // namespace

Result<std::vector<PairText>> read_store_pairs(const std::string& run_dir, int64_t round,
                                               const std::string& selector) {
  DSTC_TRY(auto st, open_run(run_dir));
  if (round < 0) {
    DSTC_TRY(round, latest_round(*st, store::Family::kPairs));
  }
  DSTC_TRY(auto pairs, st->pairs(static_cast<uint32_t>(round), selector));
  if (pairs.empty()) {
    return fail(ErrorCode::kNotFound, run_dir + ": no pairs for round " + std::to_string(round) +
                                          " and selector '" + selector + "'");
  }
  std::vector<PairText> out;
  for (auto& p : pairs) {
    out.push_back({std::move(p.prompt), std::move(p.chosen), std::move(p.rejected), "",
                   run_dir + "/round " + std::to_string(p.round) + "/" + p.task_id + "/" +
                       std::to_string(p.index)});
  }
  return out;
}

Result<std::vector<KtoText>> read_store_kto(const std::string& run_dir, int64_t round,
                                            const std::string& selector) {
  DSTC_TRY(auto st, open_run(run_dir));
  if (round < 0) {
    DSTC_TRY(round, latest_round(*st, store::Family::kKto));
  }
  DSTC_TRY(auto kto, st->kto(static_cast<uint32_t>(round), selector));
  if (kto.empty()) {
    return fail(ErrorCode::kNotFound, run_dir + ": no KTO examples for round " +
                                          std::to_string(round) + " and selector '" + selector +
                                          "'");
  }
  std::vector<KtoText> out;
  for (auto& k : kto) {
    out.push_back({std::move(k.prompt), std::move(k.completion), k.label,
                   run_dir + "/round " + std::to_string(k.round) + "/" + k.task_id + "/" +
                       std::to_string(k.index)});
  }
  return out;
}

}  // namespace dstc::trainer
