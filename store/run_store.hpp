// The run store: a folder (default ./.sluice) holding runs.db (SQLite, WAL) and the
// content-addressed artifacts/ tree. One RunStore per process and store folder.
#ifndef SLUICE_STORE_RUN_STORE_HPP_
#define SLUICE_STORE_RUN_STORE_HPP_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "database.hpp"
#include "status.hpp"

namespace sluice::store {

struct RunRecord {
  std::string id;
  std::string pipeline;
  std::string file;
  RunStatus status = RunStatus::kRunning;
  std::optional<std::string> error;
  std::string started_at;
  std::optional<std::string> ended_at;
  std::string host;
  int64_t pid = 0;
  std::string command;
  std::string spec;                     // JSON
  std::optional<std::string> study_id;  // a sweep's trial
  std::optional<int64_t> trial;
};

struct StageRecord {
  std::string name;
  int position = 0;
  std::string plugin;
  std::string plugin_version;
  std::string plugin_file;
  std::string plugin_build;  // v5: the library's build id (two builds of one version differ)
  StageStatus status = StageStatus::kPending;
  std::optional<std::string> started_at, ended_at;
  std::optional<double> seconds;
  bool cached = false;
  std::optional<std::string> error;
};

struct ArtifactRecord {
  std::string stage;
  std::string name;
  std::string path;  // absolute, under the store folder as it is now (recorded relative)
  std::string sha256;
  int64_t bytes = 0;
};

struct MetricPoint {
  int64_t step = 0;
  double value = 0;  // NaN when stored as NULL
  double logged_at = 0;
};

struct LatestMetric {
  std::string key;
  int64_t step = 0;
  double value = 0;
};

// A metric series at a glance: its newest point, extremes and length.
struct MetricStats {
  std::string key;
  int64_t step = 0;                    // of the newest point
  double value = 0, min = 0, max = 0;  // NaN where the series has no finite value
  int64_t points = 0;
};

struct ModelRecord {
  std::string name;
  int64_t version = 0;
  std::optional<std::string> run_id;
  std::string stage;
  std::string path;  // the bundle folder: absolute, under the store folder as it is now
  std::string created_at;
  std::string description;
  std::string manifest;              // JSON
  std::vector<std::string> aliases;  // aliases pointing at this version
  // The SHA-256 of each file of the registered folder, by file name; empty for bundles
  // registered by a sluice older than schema version 4.
  std::map<std::string, std::string> files;
};

// A compiled --where condition or --order-by key: SQL over `runs` with its bindings.
struct SqlFragment {
  std::string sql;                                       // with ? placeholders, in order
  std::vector<std::variant<std::string, double>> binds;  // one per ?
};

struct RunFilter {
  std::optional<std::string> pipeline;
  std::optional<std::string> status;
  std::optional<std::string> study_id;
  std::optional<SqlFragment> where;     // see run_query.hpp
  std::optional<SqlFragment> order_by;  // default: newest first
  int64_t limit = 50;                   // <= 0: no limit
  int64_t offset = 0;                   // skip this many (paging)
};

class RunStore {
 public:
  // Opens the store in `dir`, creating the folder and the database if needed, applying
  // migrations, and marking runs whose process died as crashed. `dir` may also be a
  // postgresql:// URL: the database is then that server's, and the folder (artifacts,
  // registered models, checkpoints, locks) is $SLUICE_ARTIFACT_ROOT (`--artifact-root`),
  // a path every host that shares the store can reach.
  static std::unique_ptr<RunStore> Open(const std::filesystem::path& dir);
  // Opens an existing store for reading only: nothing is created or written, so it works
  // for another user's store and on a read-only mount. Two exceptions, both only where
  // this process may write the store: an older schema is migrated first, and runs whose
  // process died are marked crashed (so that every reader sees the same history).
  static std::unique_ptr<RunStore> OpenReadOnly(const std::filesystem::path& dir);
  // An in-memory store with no artifact folder, for tests.
  static std::unique_ptr<RunStore> OpenInMemory();

  ~RunStore();

  Database& db() { return *db_; }
  const std::filesystem::path& dir() const { return dir_; }
  // What the database was opened from: DIR/runs.db, or the postgresql:// URL.
  const std::string& location() const { return location_; }
  bool in_memory() const { return dir_.empty(); }
  bool read_only() const { return db_->read_only(); }

  // A path recorded relative to the store folder, made absolute. Throws StoreError when
  // the recorded path would leave the store (absolute, or with '..').
  std::filesystem::path Resolve(const std::string& recorded) const;
  // `path` (under the store folder) as recorded: relative to the folder.
  std::string Relative(const std::filesystem::path& path) const;

  // Error messages are kept to this many bytes in the store (longer ones are cut, saying
  // so): a message that quotes a huge input must not grow the database by its size.
  static constexpr size_t kMaxErrorBytes = 4000;

  // --- Writing a run (the executor) ---
  // Runs the writes in `body` as one transaction (Database::WriteTransaction): on a
  // server, one round trip instead of one per write. `body` may run again after a
  // conflict, so it may only write.
  template <class F>
  void Together(F&& body) {
    db_->WriteTransaction(std::forward<F>(body));
  }
  void CreateRun(const RunRecord& run, const std::map<std::string, std::string>& params_json);
  void SetEnvironment(const std::string& run_id, const std::map<std::string, std::string>& env);
  void UpsertStage(const std::string& run_id, const StageRecord& stage);
  void AddArtifact(const std::string& run_id, const ArtifactRecord& artifact);
  // Sets the final status unless the run already has one (first writer wins).
  void FinishRun(const std::string& run_id, RunStatus status, const std::optional<std::string>& error);

  // For a process about to exit at once (a second Ctrl-C): marks `run_id` interrupted,
  // and its running stages, through a connection of its own to `db_path` (a location()).
  // Never throws.
  static void MarkInterruptedNow(const std::string& db_path, const std::string& run_id,
                                 const std::string& message) noexcept;

  // Runs of this host whose process is gone are marked crashed (and their running
  // stages with them), and so are, on a PostgreSQL store, runs of any host whose
  // heartbeat stopped (MarkSilentRuns). Returns how many. Called by Open() and by sweep
  // workers before each trial.
  int MarkCrashedRuns();
  // PostgreSQL stores: runs whose heartbeat is older than kLostHeartbeats heartbeats
  // (their host died or lost the network) become crashed, their trials lost.
  int MarkSilentRuns();
  // Records that `run_id`'s process is alive (runs.heartbeat_at). A run on a PostgreSQL
  // store does so every HeartbeatSeconds() while it runs (the executor's heartbeat).
  void Heartbeat(const std::string& run_id);
  static constexpr int kLostHeartbeats = 6;
  // The ids of this host's runs recorded `running` whose process is gone.
  std::vector<std::string> DeadRuns();

  // --- Reading ---
  // A run by id or unique id prefix. Throws StoreError when none or several match.
  RunRecord FindRun(const std::string& id_or_prefix);
  std::vector<RunRecord> ListRuns(const RunFilter& filter);
  int64_t CountRuns(const RunFilter& filter);                            // how many match, ignoring limit and offset
  std::map<std::string, std::string> Params(const std::string& run_id);  // key -> JSON
  std::vector<LatestMetric> LatestMetrics(const std::string& run_id);
  std::vector<MetricPoint> MetricHistory(const std::string& run_id, const std::string& key);
  std::vector<MetricStats> MetricSummary(const std::string& run_id);  // by key
  // The keys of the run's series with more than one point (its curves), by key.
  std::vector<std::string> CurveKeys(const std::string& run_id);
  // The values of query-language fields (FieldExpression: params.K, min(metrics.K), ...)
  // for each of these runs, in the order given: a number, a text, or none where the run
  // lacks it.
  using FieldValue = std::variant<std::monostate, double, std::string>;
  std::vector<std::vector<FieldValue>> FieldValues(const std::vector<std::string>& run_ids,
                                                   const std::vector<SqlFragment>& fields);
  std::vector<StageRecord> Stages(const std::string& run_id);
  std::vector<ArtifactRecord> Artifacts(const std::string& run_id);
  std::map<std::string, std::string> Environment(const std::string& run_id);

  // Marks a finished run as running again for `sluice run --resume`: new pid, host and
  // command; error and end time cleared.
  void ReopenRun(const std::string& run_id, int64_t pid, const std::string& host, const std::string& command);

  // --- Model registry ---
  // Copies `bundle_dir` to <store>/models/NAME/vVERSION under the next version of `name`,
  // adds name, version and registration time to its manifest.json, and records it.
  ModelRecord RegisterModel(const std::string& name, const std::optional<std::string>& run_id, const std::string& stage,
                            const std::filesystem::path& bundle_dir, const std::string& description);
  std::vector<ModelRecord> ListModels(const std::optional<std::string>& name = std::nullopt);
  // NAME (newest version), NAME:VERSION or NAME@ALIAS. Throws StoreError when none.
  ModelRecord FindModel(const std::string& reference);
  void SetAlias(const std::string& name, const std::string& alias, int64_t version);

  // Lock file whose flock marks a run's process as alive.
  std::filesystem::path LockPath(const std::string& run_id) const;

 private:
  RunStore(std::filesystem::path dir, std::unique_ptr<Database> db);
  // Removes what runs that ended unfinished (crashed, or killed by a second Ctrl-C) left
  // in the store's folder: their scratch folder tmp/RUN, and the copy of a model
  // registration they had under way, models/NAME/.incoming-RUN-*. Only for runs this
  // store records as ended: the artifact root may be shared with other stores.
  void RemoveLeftovers();

  std::filesystem::path dir_;
  std::string location_;
  std::unique_ptr<Database> db_;
};

// Held by the process executing a run, from before the run is recorded until it ends.
// While it is held, other processes see the run as alive.
class RunLock {
 public:
  RunLock() = default;
  explicit RunLock(const std::filesystem::path& path);  // throws StoreError
  ~RunLock();
  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  // Releases the lock and removes the file.
  void Release();

 private:
  int fd_ = -1;
  std::filesystem::path path_;
};

// Buffers metric points and writes them in batches: one transaction per `batch_size`
// points or per `flush_interval_ms`, whichever comes first, and on Flush().
class MetricWriter {
 public:
  MetricWriter(RunStore& store, std::string run_id, size_t batch_size = 16384, int flush_interval_ms = 500);
  ~MetricWriter();  // flushes; never throws
  MetricWriter(const MetricWriter&) = delete;
  MetricWriter& operator=(const MetricWriter&) = delete;

  void Log(std::string_view key, int64_t step, double value);
  // Writes the buffered points; `also`, when given, writes in the same transaction (a
  // stage's end with its last points). Not inside RunStore::Together: the points leave
  // the buffer before that transaction commits.
  void Flush(const std::function<void()>& also = {});
  int64_t points_written() const { return written_; }
  // The newest point of each series this writer committed, by the store's rule (the last
  // logged, unless a later step was written before): what LatestMetrics reads back, for
  // a run only this writer logged to, without asking the store.
  const std::map<std::string, LatestMetric>& Latest() const { return latest_; }

 private:
  struct Point {
    uint32_t key;  // index into keys_ / series_
    int64_t step;
    double value;
    double logged_at;
  };
  uint32_t Intern(std::string_view key);
  int64_t SeriesId(uint32_t key);  // creates the series row on first use
  // The buffer, one statement per series (PostgreSQL); `last`: each series' last point.
  void InsertPoints(Database& db, const std::vector<const Point*>& last);

  RunStore& store_;
  std::string run_id_;
  size_t batch_size_;
  double flush_interval_s_;
  double last_flush_;
  std::vector<std::string> keys_;
  std::vector<int64_t> series_;  // metric_series.id per key, 0 until created
  std::vector<Point> buffer_;
  int64_t written_ = 0;
  std::map<std::string, LatestMetric> latest_;
};

// --- Small shared helpers ---
// `message` as the store keeps it: at most `limit` bytes (RunStore::kMaxErrorBytes), cut
// on a character boundary, saying how long it was.
std::string BoundedError(std::string message, size_t limit = RunStore::kMaxErrorBytes);
// Seconds between a running run's heartbeats: $SLUICE_HEARTBEAT_SECONDS, default 5 (a
// run silent for RunStore::kLostHeartbeats of them, 30 s, is taken for dead).
double HeartbeatSeconds();
// RunStore::Heartbeat through any connection to the store (the executor's heartbeat
// thread has one of its own).
void WriteHeartbeat(Database& db, const std::string& run_id);
std::string NewRunId();                    // 16 random hex digits
double UnixNow();                          // seconds since the epoch
std::string IsoTime(double unix_seconds);  // 2026-11-28T21:05:11.123Z
std::string HostName();
// Throws StoreError unless `id_or_prefix` can begin a run or study id (`what`): hex digits.
void CheckIdPrefix(const std::string& id_or_prefix, const std::string& what);

}  // namespace sluice::store

#endif  // SLUICE_STORE_RUN_STORE_HPP_
