// The run store: one RocksDB per run directory, a column family per record kind.
//
// Every pipeline stage reads its input from here and commits its output in units
// (one prompt's samples, one matrix, one prompt's pairs). A unit's records and its
// "done" marker go into one synced WriteBatch, so after a crash a unit is either
// wholly there and marked done, or absent; `pending_units` says where to resume.
//
// Keys sort as round / task / kind / index with fixed-width integers, so a prefix
// scan yields one prompt's samples or its whole execution matrix. Values carry a
// schema version; a newer one than this build knows is refused with kVersion.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "store/records.h"

namespace dstc::store {

inline constexpr uint32_t kSchemaVersion = 1;

enum class Family { kProblems, kSamples, kExecutions, kPairs, kKto, kEvals, kMeta };
inline constexpr Family kAllFamilies[] = {Family::kProblems, Family::kSamples, Family::kExecutions,
                                          Family::kPairs,    Family::kKto,     Family::kEvals,
                                          Family::kMeta};
std::string_view family_name(Family family);

// A task id can be used as a key component (non-empty, no 0x00 / 0x1f bytes).
Status keys_valid_task_id(const std::string& task_id);

struct StoreOptions {
  bool create_if_missing = true;  // false: a missing store is a kNotFound error
  bool read_only = false;         // open without taking the lock (stats, export)
  bool sync = true;               // fsync every commit (off only in benchmarks)
};

// Records to be written together, atomically.
class WriteSet {
 public:
  void put(const Problem& r);
  void put(const Sample& r);
  void put(const Execution& r);
  void put(const Pair& r);
  void put(const KtoExample& r);
  void put(const EvalResult& r);
  void put_meta(const std::string& key, const std::string& value);
  // Deletes the stored record with this one's key (in the same atomic write as the puts;
  // a put of the same key later in the set wins): how a re-selection replaces old pairs.
  void erase(const Pair& r);
  void erase(const KtoExample& r);

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  friend class Store;
  struct Entry {
    Family family;
    std::string key;
    std::string value;
    bool erase = false;
  };
  std::vector<Entry> entries_;
};

// Counts of records per family and round (problems and meta have no round: -1).
struct Stats {
  std::map<std::string, std::map<int64_t, uint64_t>> counts;  // family -> round -> count
};

class Store {
 public:
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Opens (or creates) the store in `dir`. Errors: kBusy when another process holds
  // it, kCorrupt for a damaged database, kNotFound when missing and not creating,
  // kVersion when it was written by a newer schema.
  static Result<std::unique_ptr<Store>> open(const std::string& dir, StoreOptions options = {});

  const std::string& dir() const { return dir_; }

  // Writes `records` and the done marker of `unit` in one synced batch.
  Status commit(const UnitKey& unit, const WriteSet& records);
  // Writes records that belong to no unit (problem import, config).
  Status write(const WriteSet& records);

  Result<bool> is_done(const UnitKey& unit) const;
  // The units of (round, stage) that are done, in key order.
  Result<std::vector<std::string>> done_units(uint32_t round, const std::string& stage) const;
  // Of `units`, those not yet done, in the given order.
  Result<std::vector<std::string>> pending_units(uint32_t round, const std::string& stage,
                                                 const std::vector<std::string>& units) const;
  // Removes the done markers (and nothing else) of a stage, e.g. to redo selection.
  Status reset_stage(uint32_t round, const std::string& stage);

  Result<std::optional<Problem>> problem(const std::string& task_id) const;
  Result<std::vector<Problem>> problems() const;
  // One prompt's samples; `kind` narrows to codes or tests.
  Result<std::vector<Sample>> samples(uint32_t round, const std::string& task_id,
                                      std::optional<SampleKind> kind = std::nullopt) const;
  // One prompt's execution matrix, ordered by (code, test).
  Result<std::vector<Execution>> executions(uint32_t round, const std::string& task_id) const;
  // Pairs / KTO examples of a round and selector; `task_id` narrows to one prompt.
  Result<std::vector<Pair>> pairs(uint32_t round, const std::string& selector,
                                  const std::string& task_id = "") const;
  Result<std::vector<KtoExample>> kto(uint32_t round, const std::string& selector,
                                      const std::string& task_id = "") const;
  Result<std::vector<EvalResult>> evals(uint32_t round, const std::string& benchmark) const;

  Result<std::optional<std::string>> meta(const std::string& key) const;

  Result<Stats> stats() const;
  // Consistency check: every value decodes, every key matches its record, every
  // execution and pair refers to samples and problems that exist. Returns the list
  // of problems found (empty = consistent).
  Result<std::vector<std::string>> check() const;

  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl, std::string dir);
  std::unique_ptr<Impl> impl_;
  std::string dir_;
};

}  // namespace dstc::store
