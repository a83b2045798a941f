#include "store/store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <set>

#include "store/codec.h"
#include "store/keys.h"

namespace dstc::store {

std::string_view family_name(Family family) {
  switch (family) {
    case Family::kProblems:
      return "problems";
    case Family::kSamples:
      return "samples";
    case Family::kExecutions:
      return "executions";
    case Family::kPairs:
      return "pairs";
    case Family::kKto:
      return "kto";
    case Family::kEvals:
      return "evals";
    case Family::kMeta:
      return "meta";
  }
  return "unknown";
}

Status keys_valid_task_id(const std::string& task_id) {
  return keys::validate_component("task_id", task_id);
}

// ---- WriteSet -------------------------------------------------------------

void WriteSet::put(const Problem& r) {
  entries_.push_back({Family::kProblems, keys::problem(r.task_id), codec::encode(r)});
}
void WriteSet::put(const Sample& r) {
  entries_.push_back({Family::kSamples, keys::sample(r), codec::encode(r)});
}
void WriteSet::put(const Execution& r) {
  entries_.push_back({Family::kExecutions,
                      keys::execution(r.round, r.task_id, r.code_index, r.test_index),
                      codec::encode(r)});
}
void WriteSet::put(const Pair& r) {
  entries_.push_back(
      {Family::kPairs, keys::pair(r.round, r.selector, r.task_id, r.index), codec::encode(r)});
}
void WriteSet::put(const KtoExample& r) {
  entries_.push_back(
      {Family::kKto, keys::pair(r.round, r.selector, r.task_id, r.index), codec::encode(r)});
}
void WriteSet::erase(const Pair& r) {
  entries_.push_back(
      {Family::kPairs, keys::pair(r.round, r.selector, r.task_id, r.index), "", true});
}
void WriteSet::erase(const KtoExample& r) {
  entries_.push_back({Family::kKto, keys::pair(r.round, r.selector, r.task_id, r.index), "", true});
}
void WriteSet::put(const EvalResult& r) {
  entries_.push_back(
      {Family::kEvals, keys::eval(r.round, r.benchmark, r.task_id), codec::encode(r)});
}
void WriteSet::put_meta(const std::string& key, const std::string& value) {
  entries_.push_back({Family::kMeta, keys::meta(key), codec::encode_string(value)});
}

// ---- Store internals --------------------------------------------------------

struct Store::Impl {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // indexed by Family
  std::vector<rocksdb::ColumnFamilyHandle*> extra;    // families of newer versions
  StoreOptions options;

  ~Impl() {
    if (!db) return;
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    for (auto* h : extra) db->DestroyColumnFamilyHandle(h);
    db->Close();
  }

  rocksdb::ColumnFamilyHandle* cf(Family f) const { return handles[static_cast<size_t>(f)]; }

  // Calls fn(key, value) for every record of `family` whose key starts with prefix;
  // fn returns false to stop.
  template <typename Fn>
  Status scan(Family family, std::string_view prefix, Fn&& fn) const {
    rocksdb::ReadOptions ro;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf(family)));
    for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
      std::string_view key(it->key().data(), it->key().size());
      if (key.substr(0, prefix.size()) != prefix) break;
      std::string_view value(it->value().data(), it->value().size());
      if (!fn(key, value)) break;
    }
    if (!it->status().ok()) {
      return fail(ErrorCode::kIo,
                  "reading " + std::string(family_name(family)) + ": " + it->status().ToString());
    }
    return {};
  }

  // Decodes every record under `prefix` into a vector; errors name family and key.
  template <typename Record>
  Result<std::vector<Record>> load(Family family, std::string_view prefix) const {
    std::vector<Record> out;
    Status inner;
    DSTC_CHECK_OK(scan(family, prefix, [&](std::string_view key, std::string_view value) {
      Record r;
      if (auto s = codec::decode(value, r); !s) {
        inner = fail(std::move(s).error().context(std::string(family_name(family)) + " record '" +
                                                  printable(key) + "'"));
        return false;
      }
      out.push_back(std::move(r));
      return true;
    }));
    if (!inner) return fail(std::move(inner).error());
    return out;
  }

  Status write(rocksdb::WriteBatch& batch) const {
    rocksdb::WriteOptions wo;
    wo.sync = options.sync;
    auto s = db->Write(wo, &batch);
    if (!s.ok()) return fail(ErrorCode::kIo, "committing to the run store: " + s.ToString());
    return {};
  }

  static std::string printable(std::string_view key) {
    std::string out(key);
    for (char& c : out) {
      if (c == keys::kSep) c = '/';
    }
    return out;
  }
};

namespace {

Error rocks_error(const rocksdb::Status& s, const std::string& dir) {
  std::string msg = s.ToString();
  if (s.IsIOError() && msg.find("lock") != std::string::npos) {
    return Error(ErrorCode::kBusy, "run store " + dir +
                                       " is in use by another process (its LOCK file is held); "
                                       "wait for it to finish or use another --run-dir");
  }
  if (s.IsCorruption()) {
    return Error(ErrorCode::kCorrupt, "run store " + dir + " is corrupt: " + msg +
                                          " (restore it from a backup or start a new run)");
  }
  return Error(ErrorCode::kIo, "opening run store " + dir + ": " + msg);
}

}  // namespace

Store::Store(std::unique_ptr<Impl> impl, std::string dir)
    : impl_(std::move(impl)), dir_(std::move(dir)) {}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, StoreOptions options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  bool exists = fs::exists(fs::path(dir) / "CURRENT", ec);
  if (!exists && (!options.create_if_missing || options.read_only)) {
    return fail(ErrorCode::kNotFound,
                "no run store in " + dir + " (start a run there first, or check --run-dir)");
  }
  if (!exists) {
    fs::create_directories(dir, ec);
    if (ec) return fail(ErrorCode::kIo, "creating run directory " + dir + ": " + ec.message());
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = !options.read_only;
  db_options.paranoid_checks = true;
  db_options.max_open_files = 256;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 2;

  // Open our families plus any a newer dstc may have added (RocksDB requires all).
  std::set<std::string> names{rocksdb::kDefaultColumnFamilyName};
  for (Family f : kAllFamilies) names.insert(std::string(family_name(f)));
  if (exists) {
    std::vector<std::string> existing;
    auto s = rocksdb::DB::ListColumnFamilies(db_options, dir, &existing);
    if (!s.ok()) return fail(rocks_error(s, dir));
    names.insert(existing.begin(), existing.end());
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      options.read_only ? rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &handles, &raw)
                        : rocksdb::DB::Open(db_options, dir, descriptors, &handles, &raw);
  if (!s.ok()) return fail(rocks_error(s, dir));

  auto impl = std::make_unique<Impl>();
  impl->db.reset(raw);
  impl->options = options;
  impl->handles.resize(std::size(kAllFamilies), nullptr);
  for (auto* h : handles) {
    bool ours = false;
    for (Family f : kAllFamilies) {
      if (h->GetName() == family_name(f)) {
        impl->handles[static_cast<size_t>(f)] = h;
        ours = true;
      }
    }
    if (!ours) impl->extra.push_back(h);
  }
  auto store = std::unique_ptr<Store>(new Store(std::move(impl), dir));

  // The database-wide schema version: refuse newer ones, stamp new stores.
  DSTC_TRY(auto stamped, store->meta("schema_version"));
  if (stamped) {
    int64_t v = 0;
    try {
      v = std::stoll(*stamped);
    } catch (...) {
      return fail(ErrorCode::kCorrupt,
                  "run store " + dir + " has a malformed schema_version '" + *stamped + "'");
    }
    if (v > static_cast<int64_t>(kSchemaVersion)) {
      return fail(ErrorCode::kVersion, "run store " + dir + " was written with schema version " +
                                           std::to_string(v) + "; this dstc understands up to " +
                                           std::to_string(kSchemaVersion) +
                                           " (upgrade dstc to read it)");
    }
  } else if (!options.read_only) {
    WriteSet ws;
    ws.put_meta("schema_version", std::to_string(kSchemaVersion));
    DSTC_CHECK_OK(store->write(ws));
  }
  return store;
}

Status Store::write(const WriteSet& records) {
  rocksdb::WriteBatch batch;
  for (const auto& e : records.entries_) {
    if (e.erase) {
      batch.Delete(impl_->cf(e.family), e.key);
    } else {
      batch.Put(impl_->cf(e.family), e.key, e.value);
    }
  }
  return impl_->write(batch);
}

Status Store::commit(const UnitKey& unit, const WriteSet& records) {
  DSTC_CHECK_OK(keys::validate_component("stage", unit.stage));
  DSTC_CHECK_OK(keys::validate_component("unit", unit.unit));
  rocksdb::WriteBatch batch;
  for (const auto& e : records.entries_) {
    if (e.erase) {
      batch.Delete(impl_->cf(e.family), e.key);
    } else {
      batch.Put(impl_->cf(e.family), e.key, e.value);
    }
  }
  batch.Put(impl_->cf(Family::kMeta), keys::unit_done(unit),
            codec::encode_string(std::to_string(records.size())));
  return impl_->write(batch);
}

Result<bool> Store::is_done(const UnitKey& unit) const {
  std::string value;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(Family::kMeta), keys::unit_done(unit),
                          &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return fail(ErrorCode::kIo, "reading stage marker: " + s.ToString());
  return true;
}

Result<std::vector<std::string>> Store::done_units(uint32_t round, const std::string& stage) const {
  std::vector<std::string> out;
  std::string prefix = keys::stage_prefix(round, stage);
  DSTC_CHECK_OK(impl_->scan(Family::kMeta, prefix, [&](std::string_view key, std::string_view) {
    out.emplace_back(key.substr(prefix.size()));
    return true;
  }));
  return out;
}

Result<std::vector<std::string>> Store::pending_units(uint32_t round, const std::string& stage,
                                                      const std::vector<std::string>& units) const {
  DSTC_TRY(auto done, done_units(round, stage));
  std::set<std::string> done_set(done.begin(), done.end());
  std::vector<std::string> out;
  for (const auto& u : units) {
    if (!done_set.count(u)) out.push_back(u);
  }
  return out;
}

Status Store::reset_stage(uint32_t round, const std::string& stage) {
  rocksdb::WriteBatch batch;
  std::string prefix = keys::stage_prefix(round, stage);
  DSTC_CHECK_OK(impl_->scan(Family::kMeta, prefix, [&](std::string_view key, std::string_view) {
    batch.Delete(impl_->cf(Family::kMeta), rocksdb::Slice(key.data(), key.size()));
    return true;
  }));
  return impl_->write(batch);
}

Result<std::optional<Problem>> Store::problem(const std::string& task_id) const {
  std::string value;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(Family::kProblems),
                          keys::problem(task_id), &value);
  if (s.IsNotFound()) return std::optional<Problem>();
  if (!s.ok()) return fail(ErrorCode::kIo, "reading problem " + task_id + ": " + s.ToString());
  Problem p;
  if (auto d = codec::decode(value, p); !d) {
    return fail(std::move(d).error().context("problems record '" + task_id + "'"));
  }
  return std::optional<Problem>(std::move(p));
}

Result<std::vector<Problem>> Store::problems() const {
  return impl_->load<Problem>(Family::kProblems, "");
}

Result<std::vector<Sample>> Store::samples(uint32_t round, const std::string& task_id,
                                           std::optional<SampleKind> kind) const {
  std::string prefix =
      kind ? keys::sample_kind_prefix(round, task_id, *kind) : keys::task_prefix(round, task_id);
  return impl_->load<Sample>(Family::kSamples, prefix);
}

Result<std::vector<Execution>> Store::executions(uint32_t round, const std::string& task_id) const {
  return impl_->load<Execution>(Family::kExecutions, keys::task_prefix(round, task_id));
}

Result<std::vector<Pair>> Store::pairs(uint32_t round, const std::string& selector,
                                       const std::string& task_id) const {
  std::string prefix = task_id.empty() ? keys::selector_prefix(round, selector)
                                       : keys::selector_task_prefix(round, selector, task_id);
  return impl_->load<Pair>(Family::kPairs, prefix);
}

Result<std::vector<KtoExample>> Store::kto(uint32_t round, const std::string& selector,
                                           const std::string& task_id) const {
  std::string prefix = task_id.empty() ? keys::selector_prefix(round, selector)
                                       : keys::selector_task_prefix(round, selector, task_id);
  return impl_->load<KtoExample>(Family::kKto, prefix);
}

Result<std::vector<EvalResult>> Store::evals(uint32_t round, const std::string& benchmark) const {
  return impl_->load<EvalResult>(Family::kEvals, keys::eval_prefix(round, benchmark));
}

Result<std::optional<std::string>> Store::meta(const std::string& key) const {
  std::string value;
  auto s =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(Family::kMeta), keys::meta(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return fail(ErrorCode::kIo, "reading meta '" + key + "': " + s.ToString());
  std::string out;
  if (auto d = codec::decode_string(value, out); !d) {
    return fail(std::move(d).error().context("meta '" + key + "'"));
  }
  return std::optional<std::string>(std::move(out));
}

Result<Stats> Store::stats() const {
  Stats stats;
  for (Family f : kAllFamilies) {
    auto& per_round = stats.counts[std::string(family_name(f))];
    bool rounds = f != Family::kProblems && f != Family::kMeta;
    DSTC_CHECK_OK(impl_->scan(f, "", [&](std::string_view key, std::string_view) {
      ++per_round[rounds ? keys::round_of(key) : -1];
      return true;
    }));
  }
  return stats;
}

namespace {

// Decodes `value` as Record and checks that the record re-derives `key`.
template <typename Record, typename KeyFn>
void check_record(std::string_view family, std::string_view key, std::string_view value,
                  KeyFn&& key_of, std::vector<std::string>& problems, Record& r, bool& ok) {
  ok = false;
  auto where = std::string(family) + " record '" + Store::Impl::printable(key) + "'";
  if (auto s = codec::decode(value, r); !s) {
    problems.push_back(where + ": " + s.error().message());
    return;
  }
  if (key_of(r) != key) {
    problems.push_back(where + ": key does not match the record's own fields");
    return;
  }
  ok = true;
}

}  // namespace

Result<std::vector<std::string>> Store::check() const {
  std::vector<std::string> found;
  std::set<std::string> task_ids;
  std::set<std::string> sample_keys;
  bool ok = false;

  Problem p;
  DSTC_CHECK_OK(impl_->scan(Family::kProblems, "", [&](std::string_view k, std::string_view v) {
    check_record(
        "problems", k, v, [](const Problem& r) { return keys::problem(r.task_id); }, found, p, ok);
    if (ok) task_ids.insert(p.task_id);
    return true;
  }));
  Sample s;
  DSTC_CHECK_OK(impl_->scan(Family::kSamples, "", [&](std::string_view k, std::string_view v) {
    check_record(
        "samples", k, v, [](const Sample& r) { return keys::sample(r); }, found, s, ok);
    if (ok) sample_keys.insert(std::string(k));
    return true;
  }));
  Execution e;
  DSTC_CHECK_OK(impl_->scan(Family::kExecutions, "", [&](std::string_view k, std::string_view v) {
    check_record(
        "executions", k, v,
        [](const Execution& r) {
          return keys::execution(r.round, r.task_id, r.code_index, r.test_index);
        },
        found, e, ok);
    if (!ok) return true;
    for (auto [kind, index] :
         {std::pair{SampleKind::kCode, e.code_index}, std::pair{SampleKind::kTest, e.test_index}}) {
      if (index == kHiddenTestIndex || index == kCanonicalCodeIndex) continue;
      Sample ref;
      ref.round = e.round;
      ref.task_id = e.task_id;
      ref.kind = kind;
      ref.index = index;
      if (!sample_keys.count(keys::sample(ref))) {
        found.push_back("executions record '" + Impl::printable(k) + "': refers to missing " +
                        std::string(sample_kind_name(kind)) + " sample " + std::to_string(index));
      }
    }
    return true;
  }));
  Pair pr;
  DSTC_CHECK_OK(impl_->scan(Family::kPairs, "", [&](std::string_view k, std::string_view v) {
    check_record(
        "pairs", k, v,
        [](const Pair& r) { return keys::pair(r.round, r.selector, r.task_id, r.index); }, found,
        pr, ok);
    if (ok && !task_ids.count(pr.task_id)) {
      found.push_back("pairs record '" + Impl::printable(k) + "': task '" + pr.task_id +
                      "' is not among the problems");
    }
    return true;
  }));
  KtoExample kt;
  DSTC_CHECK_OK(impl_->scan(Family::kKto, "", [&](std::string_view k, std::string_view v) {
    check_record(
        "kto", k, v,
        [](const KtoExample& r) { return keys::pair(r.round, r.selector, r.task_id, r.index); },
        found, kt, ok);
    return true;
  }));
  EvalResult ev;
  DSTC_CHECK_OK(impl_->scan(Family::kEvals, "", [&](std::string_view k, std::string_view v) {
    check_record(
        "evals", k, v,
        [](const EvalResult& r) { return keys::eval(r.round, r.benchmark, r.task_id); }, found, ev,
        ok);
    return true;
  }));
  DSTC_CHECK_OK(impl_->scan(Family::kMeta, "", [&](std::string_view k, std::string_view v) {
    std::string value;
    if (auto d = codec::decode_string(v, value); !d) {
      found.push_back("meta record '" + Impl::printable(k) + "': " + d.error().message());
    }
    return true;
  }));
  return found;
}

}  // namespace dstc::store
