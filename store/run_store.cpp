#include "run_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>
#include <cerrno>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "migrations.hpp"
#include "sluice/bundle.hpp"
#include "sluice/contract.hpp"
#include "sluice/digest.hpp"
#include "sluice/excerpt.hpp"
#include "study_store.hpp"

namespace sluice::store {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- helpers

std::string NewRunId() {
  uint64_t bits = 0;
  if (getrandom(&bits, sizeof bits, 0) != static_cast<ssize_t>(sizeof bits)) {
    std::random_device rd;
    bits = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
           static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits));
  return buf;
}

double UnixNow() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::string IsoTime(double unix_seconds) {
  auto whole = static_cast<time_t>(std::floor(unix_seconds));
  int millis = static_cast<int>((unix_seconds - static_cast<double>(whole)) * 1000.0);
  if (millis > 999) millis = 999;
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// ---------------------------------------------------------------- RunLock

RunLock::RunLock(const fs::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0 || ::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw StoreError("cannot lock " + path.string());
  }
}

RunLock::~RunLock() { Release(); }

RunLock::RunLock(RunLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) { other.fd_ = -1; }

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

void RunLock::Release() {
  if (fd_ < 0) return;
  std::error_code ignored;
  fs::remove(path_, ignored);  // remove while still holding it, so nobody sees it free
  ::close(fd_);
  fd_ = -1;
}

// ---------------------------------------------------------------- RunStore

RunStore::RunStore(fs::path dir, std::unique_ptr<Database> db) : dir_(std::move(dir)), db_(std::move(db)) {}
RunStore::~RunStore() = default;

namespace {
bool Writable(const fs::path& dir);
fs::path ArtifactRootFor(const std::string& url);
}  // namespace

namespace {
fs::path ArtifactRootFor(const std::string& url) {
  const char* root = std::getenv("SLUICE_ARTIFACT_ROOT");
  if (!root || !*root) {
    throw StoreError("the PostgreSQL store " + RedactUrl(url) +
                     " keeps its artifacts in a folder every host can reach: give it with --artifact-root DIR "
                     "(or SLUICE_ARTIFACT_ROOT)");
  }
  return fs::absolute(root).lexically_normal();
}
}  // namespace

std::unique_ptr<RunStore> RunStore::Open(const fs::path& location) {
  const bool server = Database::IsUrl(location.string());
  const fs::path dir = server ? ArtifactRootFor(location.string()) : location;
  std::error_code ec;
  if (!server && fs::exists(dir / "runs.db", ec) && !Writable(dir)) {
    throw StoreError("cannot write the store " + dir.string() + " (" + std::strerror(errno) +
                     "): recording runs needs write access to it; commands that only read it work");
  }
  fs::create_directories(dir / "locks", ec);
  if (ec) throw StoreError("cannot create store folder " + dir.string() + ": " + ec.message());
  fs::create_directories(dir / "artifacts", ec);
  const std::string database = server ? location.string() : (dir / "runs.db").string();
  auto db = std::make_unique<Database>(database);
  Migrate(*db);
  std::unique_ptr<RunStore> store(new RunStore(fs::absolute(dir).lexically_normal(), std::move(db)));
  store->location_ = database;
  store->MarkCrashedRuns();
  store->RemoveLeftovers();
  return store;
}

namespace {

bool Writable(const fs::path& dir) {
  return ::access(dir.c_str(), W_OK) == 0 && ::access((dir / "runs.db").c_str(), W_OK) == 0;
}

}  // namespace

std::unique_ptr<RunStore> RunStore::OpenReadOnly(const fs::path& location) {
  const bool server = Database::IsUrl(location.string());
  const fs::path folder = server ? ArtifactRootFor(location.string()) : fs::absolute(location).lexically_normal();
  const std::string database = server ? location.string() : (folder / "runs.db").string();
  auto open = [&] {
    std::unique_ptr<RunStore> store(
        new RunStore(folder, std::make_unique<Database>(database, Database::Mode::kReadOnly)));
    store->location_ = database;
    return store;
  };
  std::unique_ptr<RunStore> store = open();
  const int newest = static_cast<int>(MigrationsFor(store->db()).size());
  const int version = SchemaVersion(store->db());
  const std::string name = server ? RedactUrl(database) : database;
  if (version > newest) {
    throw StoreError("store " + name + " has schema version " + std::to_string(version) +
                     ", newer than this sluice understands (" + std::to_string(newest) + "); use a newer sluice");
  }
  if (server && version == 0) {
    throw StoreError("no run store at " + name + " (runs are recorded by `sluice run --store URL`)");
  }
  const bool stale = version < newest;
  const size_t dead = store->DeadRuns().size();
  if ((stale || dead > 0) && (server || Writable(folder))) {
    store.reset();
    try {
      Open(location);  // migrates, marks dead runs crashed
    } catch (const DamagedStoreError&) {
      throw;
    } catch (const StoreError& e) {
      if (stale) throw;
      // A full disk, say: reading needs no write, so the reader goes on without it.
      std::fprintf(stderr,
                   "sluice: note: %zu run%s whose process is gone could not be marked crashed (%s); shown as "
                   "running until a command can write the store\n",
                   dead, dead == 1 ? "" : "s", e.what());
    }
    store = open();
  } else if (stale) {
    throw StoreError("store " + folder.string() + " has schema version " + std::to_string(version) +
                     ", older than this sluice's " + std::to_string(newest) +
                     ", and this process cannot write it to upgrade it; run any sluice command that writes "
                     "(e.g. `sluice store check`) as a user who can");
  }
  return store;
}
std::unique_ptr<RunStore> RunStore::OpenInMemory() {
  auto db = std::make_unique<Database>(":memory:");
  Migrate(*db);
  return std::unique_ptr<RunStore>(new RunStore(fs::path(), std::move(db)));
}

fs::path RunStore::LockPath(const std::string& run_id) const { return dir_ / "locks" / (run_id + ".lock"); }

namespace {

// Whether the process that holds `lock_path` is gone: it held an exclusive flock for the
// whole run, and the kernel drops flocks when a process dies, however it dies. A lock
// this user cannot read says nothing: the run is taken to be alive.
bool OwnerIsGone(const fs::path& lock_path, int* fd_out) {
  int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  if (fd_out) {
    *fd_out = fd;
  } else {
    ::close(fd);
  }
  return true;
}

}  // namespace

std::vector<std::string> RunStore::DeadRuns() {
  std::vector<std::string> dead;
  if (in_memory()) return dead;
  Statement& q = db_->Cached("SELECT id FROM runs WHERE status = 'running' AND host = ?");
  q.Bind(1, HostName());
  std::vector<std::string> running;
  while (q.Step()) running.push_back(q.Text(0));
  for (const std::string& id : running) {
    if (OwnerIsGone(LockPath(id), nullptr)) dead.push_back(id);
  }
  return dead;
}

namespace {

// Ends a run still recorded running, and its running stages, as `status` (crashed or
// interrupted: the stages take the status of the same name).
void EndRunningRun(Database& db, const std::string& id, RunStatus status, const std::string& error,
                   const std::string& now) {
  db.Cached("UPDATE runs SET status = ?, error = ?, ended_at = ? WHERE id = ? AND status = 'running'")
      .Bind(1, Name(status))
      .Bind(2, error)
      .Bind(3, now)
      .Bind(4, id)
      .Run();
  db.Cached("UPDATE stages SET status = ?, ended_at = ? WHERE run_id = ? AND status = 'running'")
      .Bind(1, Name(status))
      .Bind(2, now)
      .Bind(3, id)
      .Run();
}

}  // namespace

double HeartbeatSeconds() {
  const char* text = std::getenv("SLUICE_HEARTBEAT_SECONDS");
  const double seconds = text && *text ? std::atof(text) : 5.0;
  return seconds > 0 ? seconds : 5.0;
}

void WriteHeartbeat(Database& db, const std::string& run_id) {
  db.Cached("UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'")
      .Bind(1, UnixNow())
      .Bind(2, run_id)
      .Run();
}

void RunStore::Heartbeat(const std::string& run_id) { WriteHeartbeat(*db_, run_id); }

int RunStore::MarkSilentRuns() {
  if (in_memory() || read_only() || db_->dialect() != Dialect::kPostgres) return 0;
  const double now = UnixNow(), silent = kLostHeartbeats * HeartbeatSeconds();
  struct Silent {
    std::string id, host;
    int64_t pid;
    double heartbeat;
  };
  std::vector<Silent> found;
  {
    Statement& q =
        db_->Cached("SELECT id, host, pid, heartbeat_at FROM runs WHERE status = 'running' AND heartbeat_at < ?");
    q.Bind(1, now - silent);
    while (q.Step()) found.push_back({q.Text(0), q.Text(1), q.Int(2), q.Double(3)});
  }
  const std::string host = HostName();
  int marked = 0;
  for (const Silent& run : found) {
    // On this host the run's lock says better than the clock whether its process lives.
    if (run.host == host && !OwnerIsGone(LockPath(run.id), nullptr)) continue;
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.0f", now - run.heartbeat);
    const std::string message = "the process running it (pid " + std::to_string(run.pid) + " on " + run.host +
                                ") sent no heartbeat for " + seconds + " s: its host died, or lost the store";
    const std::string at = IsoTime(now);
    db_->WriteTransaction([&] {
      EndRunningRun(*db_, run.id, RunStatus::kCrashed, message, at);
      MarkTrialOfCrashedRun(*db_, run.id, at);
    });
    ++marked;
  }
  return marked;
}

int RunStore::MarkCrashedRuns() {
  if (in_memory() || read_only()) return 0;
  const int silent = MarkSilentRuns();
  const std::string host = HostName();
  std::vector<std::pair<std::string, int64_t>> running;
  {
    Statement& q = db_->Cached("SELECT id, pid FROM runs WHERE status = 'running' AND host = ?");
    q.Bind(1, host);
    while (q.Step()) running.emplace_back(q.Text(0), q.Int(1));
  }
  int marked = 0;
  for (const auto& [id, pid] : running) {
    const fs::path lock_path = LockPath(id);
    int fd = -1;
    if (!OwnerIsGone(lock_path, &fd)) continue;  // alive
    const std::string now = IsoTime(UnixNow());
    const std::string message =
        "the process running it (pid " + std::to_string(pid) + " on " + host + ") ended without recording a result";
    db_->WriteTransaction([&] {
      EndRunningRun(*db_, id, RunStatus::kCrashed, message, now);
      MarkTrialOfCrashedRun(*db_, id, now);
    });
    ++marked;
    if (fd >= 0) {
      std::error_code ignored;
      fs::remove(lock_path, ignored);
      ::close(fd);
    }
  }
  return marked + silent;
}

void RunStore::RemoveLeftovers() {
  std::map<std::string, bool> ended;  // by run id, once asked
  const auto is_ended = [&](const std::string& id) {
    const bool hex = id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
                       return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                     });
    if (!hex) return false;
    auto [at, added] = ended.emplace(id, false);
    if (added) {
      Statement& q = db_->Cached("SELECT status FROM runs WHERE id = ?");
      q.Bind(1, id);
      at->second = q.Step() && q.Text(0) != Name(RunStatus::kRunning);
      q.Reset();
    }
    return at->second;
  };
  std::vector<fs::path> leftovers;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_ / "tmp", ec)) {
    if (is_ended(entry.path().filename().string())) leftovers.push_back(entry.path());
  }
  const std::string incoming = ".incoming-";
  for (const fs::directory_entry& model : fs::directory_iterator(dir_ / "models", ec)) {
    std::error_code inner;
    for (const fs::directory_entry& entry : fs::directory_iterator(model.path(), inner)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(incoming, 0) == 0 && is_ended(name.substr(incoming.size(), 16))) leftovers.push_back(entry.path());
    }
  }
  for (const fs::path& path : leftovers) fs::remove_all(path, ec);
}

std::string BoundedError(std::string message, size_t limit) {
  if (message.size() <= limit) return message;
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xc0) == 0x80) --cut;
  const size_t bytes = message.size();
  message.resize(cut);
  return message + "... (message cut: " + std::to_string(bytes) + " bytes)";
}

void RunStore::MarkInterruptedNow(const std::string& db_path, const std::string& run_id,
                                  const std::string& message) noexcept {
  try {
    Database db(db_path);
    EndRunningRun(db, run_id, RunStatus::kInterrupted, message, IsoTime(UnixNow()));
  } catch (...) {
    // The caller exits anyway; the next open marks the run crashed.
  }
}

fs::path RunStore::Resolve(const std::string& recorded) const {
  const fs::path path(recorded);
  bool escapes = path.is_absolute() || recorded.empty();
  for (const fs::path& part : path) escapes = escapes || part == "..";
  if (escapes) {
    throw StoreError("the store records the path '" + Excerpt(recorded, 200) + "', which is not inside the store " +
                     dir_.string() + " (edited by hand?)");
  }
  return dir_ / path;
}

std::string RunStore::Relative(const fs::path& path) const {
  const fs::path relative = path.lexically_normal().lexically_relative(dir_);
  if (relative.empty() || *relative.begin() == "..") {
    throw StoreError(path.string() + " is not inside the store " + dir_.string());
  }
  return relative.generic_string();
}

namespace {

std::optional<std::string> Bounded(const std::optional<std::string>& error) {
  if (!error) return error;
  return BoundedError(*error);
}

}  // namespace

namespace {

// (run_id, key, value) rows into `table`, many per statement: one round trip to a
// database server for a run's parameters rather than one per parameter.
void InsertKeyValues(Database& db, const char* table, const char* on_conflict, const std::string& run_id,
                     const std::map<std::string, std::string>& rows) {
  constexpr size_t kRowsPerStatement = 200;  // 600 bound values, far below either engine's limit
  auto it = rows.begin();
  while (it != rows.end()) {
    const size_t n = std::min<size_t>(kRowsPerStatement, static_cast<size_t>(std::distance(it, rows.end())));
    std::string sql = std::string("INSERT INTO ") + table + " (run_id, key, value) VALUES ";
    for (size_t i = 0; i < n; ++i) sql += i ? ", (?, ?, ?)" : "(?, ?, ?)";
    sql += on_conflict;
    Statement& q = db.Cached(sql);
    int index = 1;
    for (size_t i = 0; i < n; ++i, ++it, index += 3) {
      q.Bind(index, run_id).Bind(index + 1, it->first).Bind(index + 2, it->second);
    }
    q.Queue();
  }
}

}  // namespace

void RunStore::CreateRun(const RunRecord& run, const std::map<std::string, std::string>& params_json) {
  db_->WriteTransaction([&] {
    db_->Cached(
           "INSERT INTO runs (id, pipeline, file, status, error, started_at, ended_at, host, pid, command, spec, "
           "study_id, trial, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .Bind(1, run.id)
        .Bind(2, run.pipeline)
        .Bind(3, run.file)
        .Bind(4, Name(run.status))
        .Bind(5, Bounded(run.error))
        .Bind(6, run.started_at)
        .Bind(7, run.ended_at)
        .Bind(8, run.host)
        .Bind(9, run.pid)
        .Bind(10, run.command)
        .Bind(11, run.spec)
        .Bind(12, run.study_id)
        .Bind(13, run.trial)
        .Bind(14, UnixNow())
        .Queue();
    InsertKeyValues(*db_, "params", "", run.id, params_json);
  });
}

void RunStore::SetEnvironment(const std::string& run_id, const std::map<std::string, std::string>& env) {
  // Facts are set one by one or a few at once: one statement, unless there are hundreds.
  const auto write = [&](auto&& body) { env.size() <= 200 ? db_->Write(body) : db_->WriteTransaction(body); };
  write([&] {
    InsertKeyValues(*db_, "environment", " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value", run_id,
                    env);
  });
}

void RunStore::UpsertStage(const std::string& run_id, const StageRecord& st) {
  db_->Write([&] {
    Statement& s = db_->Cached(
        "INSERT INTO stages (run_id, name, position, plugin, plugin_version, plugin_file, status, "
        "started_at, ended_at, seconds, cached, error, plugin_build) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id, name) DO UPDATE SET position = excluded.position, plugin = excluded.plugin, "
        "plugin_version = excluded.plugin_version, plugin_file = excluded.plugin_file, status = excluded.status, "
        "started_at = excluded.started_at, ended_at = excluded.ended_at, seconds = excluded.seconds, "
        "cached = excluded.cached, error = excluded.error, plugin_build = excluded.plugin_build");
    s.Bind(1, run_id).Bind(2, st.name).Bind(3, st.position).Bind(4, st.plugin).Bind(5, st.plugin_version);
    s.Bind(6, st.plugin_file).Bind(7, Name(st.status)).Bind(8, st.started_at).Bind(9, st.ended_at);
    if (st.seconds) {
      s.Bind(10, *st.seconds);
    } else {
      s.BindNull(10);
    }
    s.Bind(11, st.cached ? 1 : 0).Bind(12, Bounded(st.error)).Bind(13, st.plugin_build).Queue();
  });
}

void RunStore::AddArtifact(const std::string& run_id, const ArtifactRecord& a) {
  db_->Write([&] {
    db_->Cached(
           "INSERT INTO artifacts (run_id, stage, name, path, sha256, bytes) VALUES (?, ?, ?, ?, ?, ?) "
           "ON CONFLICT (run_id, stage, name) DO UPDATE SET path = excluded.path, sha256 = excluded.sha256, "
           "bytes = excluded.bytes")
        .Bind(1, run_id)
        .Bind(2, a.stage)
        .Bind(3, a.name)
        .Bind(4, Relative(a.path))
        .Bind(5, a.sha256)
        .Bind(6, a.bytes)
        .Run();
  });
}

void RunStore::FinishRun(const std::string& run_id, RunStatus status, const std::optional<std::string>& error) {
  db_->Write([&] {
    db_->Cached("UPDATE runs SET status = ?, error = ?, ended_at = ? WHERE id = ? AND status = 'running'")
        .Bind(1, Name(status))
        .Bind(2, Bounded(error))
        .Bind(3, IsoTime(UnixNow()))
        .Bind(4, run_id)
        .Queue();
  });
}

namespace {

constexpr const char* kRunColumns =
    "id, pipeline, file, status, error, started_at, ended_at, host, pid, command, spec, study_id, trial";

RunRecord ReadRun(const Statement& q) {
  RunRecord r;
  r.id = q.Text(0);
  r.pipeline = q.Text(1);
  r.file = q.Text(2);
  r.status = FromStored(kRunStatusNames, q.Text(3), RunStatus::kCrashed);
  r.error = q.OptionalText(4);
  r.started_at = q.Text(5);
  r.ended_at = q.OptionalText(6);
  r.host = q.Text(7);
  r.pid = q.Int(8);
  r.command = q.Text(9);
  r.spec = q.Text(10);
  r.study_id = q.OptionalText(11);
  if (!q.IsNull(12)) r.trial = q.Int(12);
  return r;
}

}  // namespace

void CheckIdPrefix(const std::string& id_or_prefix, const std::string& what) {
  if (id_or_prefix.empty()) throw StoreError("empty " + what + " id");
  for (char c : id_or_prefix) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      throw StoreError("'" + Excerpt(id_or_prefix) + "' is not a " + what + " id (" + what + " ids are hexadecimal)");
    }
  }
}

RunRecord RunStore::FindRun(const std::string& id_or_prefix) {
  CheckIdPrefix(id_or_prefix, "run");
  // Prefix match through the primary-key index: id >= prefix AND id < prefix + 1.
  std::string upper = id_or_prefix;
  upper.back() = static_cast<char>(upper.back() + 1);
  Statement& q =
      db_->Cached(std::string("SELECT ") + kRunColumns + " FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT 3");
  q.Bind(1, id_or_prefix).Bind(2, upper);
  std::vector<RunRecord> found;
  while (q.Step()) found.push_back(ReadRun(q));
  if (found.empty()) throw StoreError("no run matches '" + id_or_prefix + "' in " + dir_.string());
  if (found.size() > 1) {
    std::string ids;
    for (const RunRecord& r : found) ids += (ids.empty() ? "" : ", ") + r.id;
    throw StoreError("run prefix '" + id_or_prefix + "' is ambiguous (" + ids + (found.size() > 2 ? ", ..." : "") +
                     "); give more digits");
  }
  return found.front();
}

namespace {

// " AND ..." for the filter's conditions; Bind() binds their values in the same order.
std::string FilterSql(const RunFilter& filter) {
  std::string sql;
  if (filter.pipeline) sql += " AND pipeline = ?";
  if (filter.status) sql += " AND status = ?";
  if (filter.study_id) sql += " AND study_id = ?";
  if (filter.where) sql += " AND (" + filter.where->sql + ")";
  return sql;
}

// Binds a fragment's values from `index` on; returns the index after them.
int BindFragment(Statement& q, int index, const SqlFragment& fragment) {
  for (const auto& b : fragment.binds) {
    if (const auto* text = std::get_if<std::string>(&b)) {
      q.Bind(index++, *text);
    } else {
      q.Bind(index++, std::get<double>(b));
    }
  }
  return index;
}

void BindFilter(Statement& q, const RunFilter& filter, bool order_by) {
  int index = 1;
  if (filter.pipeline) q.Bind(index++, *filter.pipeline);
  if (filter.status) q.Bind(index++, *filter.status);
  if (filter.study_id) q.Bind(index++, *filter.study_id);
  if (filter.where) index = BindFragment(q, index, *filter.where);
  if (filter.order_by && order_by) BindFragment(q, index, *filter.order_by);
}

}  // namespace

std::vector<RunRecord> RunStore::ListRuns(const RunFilter& filter) {
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE TRUE" + FilterSql(filter) + " ORDER BY ";
  if (filter.order_by) sql += filter.order_by->sql + ", ";
  sql += "started_at DESC, id";
  if (filter.limit > 0) sql += " LIMIT " + std::to_string(filter.limit);
  if (filter.offset > 0)
    sql += (filter.limit > 0                       ? ""
            : db_->dialect() == Dialect::kPostgres ? " LIMIT ALL"
                                                   : " LIMIT -1") +
           std::string(" OFFSET ") + std::to_string(filter.offset);
  Statement q = db_->Prepare(sql);
  BindFilter(q, filter, true);
  std::vector<RunRecord> runs;
  while (q.Step()) runs.push_back(ReadRun(q));
  return runs;
}

int64_t RunStore::CountRuns(const RunFilter& filter) {
  Statement q = db_->Prepare("SELECT count(*) FROM runs WHERE TRUE" + FilterSql(filter));
  BindFilter(q, filter, false);
  return q.Step() ? q.Int(0) : 0;
}

std::map<std::string, std::string> RunStore::Params(const std::string& run_id) {
  Statement& q = db_->Cached("SELECT key, value FROM params WHERE run_id = ?");
  q.Bind(1, run_id);
  std::map<std::string, std::string> out;
  while (q.Step()) out.emplace(q.Text(0), q.Text(1));
  return out;
}

std::vector<LatestMetric> RunStore::LatestMetrics(const std::string& run_id) {
  Statement& q = db_->Cached(
      "SELECT key, last_step, last_value FROM metric_series WHERE run_id = ? AND last_step IS NOT NULL ORDER BY key");
  q.Bind(1, run_id);
  std::vector<LatestMetric> out;
  while (q.Step()) out.push_back({q.Text(0), q.Int(1), q.OptionalDouble(2).value_or(NAN)});
  return out;
}

std::vector<MetricStats> RunStore::MetricSummary(const std::string& run_id) {
  Statement& q = db_->Cached(
      // Grouped by series_id, the points' key order: no temporary B-tree (a third of the time
      // of grouping the join by series, on 50 series of 1,000 points).
      "SELECT s.key, s.last_step, s.last_value, a.lo, a.hi, a.n FROM metric_series s JOIN "
      "(SELECT series_id, min(value) AS lo, max(value) AS hi, count(*) AS n FROM metric_points "
      "WHERE series_id IN (SELECT id FROM metric_series WHERE run_id = ?) GROUP BY series_id) a "
      "ON a.series_id = s.id ORDER BY s.key");
  q.Bind(1, run_id);
  std::vector<MetricStats> out;
  while (q.Step()) {
    out.push_back({q.Text(0), q.Int(1), q.OptionalDouble(2).value_or(NAN), q.OptionalDouble(3).value_or(NAN),
                   q.OptionalDouble(4).value_or(NAN), q.Int(5)});
  }
  return out;
}

std::vector<std::string> RunStore::CurveKeys(const std::string& run_id) {
  // A series with a point before its newest step has more than one.
  Statement& q = db_->Cached(
      "SELECT s.key FROM metric_series s WHERE s.run_id = ? AND EXISTS (SELECT 1 FROM metric_points p "
      "WHERE p.series_id = s.id AND p.step < s.last_step) ORDER BY s.key");
  q.Bind(1, run_id);
  std::vector<std::string> out;
  while (q.Step()) out.push_back(q.Text(0));
  return out;
}

std::vector<std::vector<RunStore::FieldValue>> RunStore::FieldValues(const std::vector<std::string>& run_ids,
                                                                     const std::vector<SqlFragment>& fields) {
  std::vector<std::vector<FieldValue>> out(run_ids.size(), std::vector<FieldValue>(fields.size()));
  if (fields.empty()) return out;
  std::string sql = "SELECT ";
  for (size_t f = 0; f < fields.size(); ++f) sql += (f ? ", (" : "(") + fields[f].sql + ")";
  Statement q = db_->Prepare(sql + " FROM runs WHERE id = ?");
  for (size_t r = 0; r < run_ids.size(); ++r) {
    q.Reset();
    int index = 1;
    for (const SqlFragment& field : fields) index = BindFragment(q, index, field);
    q.Bind(index, run_ids[r]);
    if (!q.Step()) continue;
    for (size_t f = 0; f < fields.size(); ++f) {
      const int column = static_cast<int>(f);
      if (q.IsNull(column)) continue;
      if (q.IsText(column)) {
        out[r][f] = q.Text(column);
      } else {
        out[r][f] = q.Double(column);
      }
    }
  }
  return out;
}

std::vector<MetricPoint> RunStore::MetricHistory(const std::string& run_id, const std::string& key) {
  Statement& q = db_->Cached(
      "SELECT p.step, p.value, p.logged_at FROM metric_series s JOIN metric_points p ON p.series_id = s.id "
      "WHERE s.run_id = ? AND s.key = ? ORDER BY p.step");
  q.Bind(1, run_id).Bind(2, key);
  std::vector<MetricPoint> out;
  while (q.Step()) out.push_back({q.Int(0), q.OptionalDouble(1).value_or(NAN), q.Double(2)});
  return out;
}

std::vector<StageRecord> RunStore::Stages(const std::string& run_id) {
  Statement& q = db_->Cached(
      "SELECT name, position, plugin, plugin_version, plugin_file, status, started_at, ended_at, seconds, cached, "
      "error, plugin_build FROM stages WHERE run_id = ? ORDER BY position");
  q.Bind(1, run_id);
  std::vector<StageRecord> out;
  while (q.Step()) {
    StageRecord s;
    s.name = q.Text(0);
    s.position = static_cast<int>(q.Int(1));
    s.plugin = q.Text(2);
    s.plugin_version = q.Text(3);
    s.plugin_file = q.Text(4);
    s.status = FromStored(kStageStatusNames, q.Text(5), StageStatus::kCrashed);
    s.started_at = q.OptionalText(6);
    s.ended_at = q.OptionalText(7);
    s.seconds = q.OptionalDouble(8);
    s.cached = q.Int(9) != 0;
    s.error = q.OptionalText(10);
    s.plugin_build = q.OptionalText(11).value_or("");
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<ArtifactRecord> RunStore::Artifacts(const std::string& run_id) {
  Statement& q = db_->Cached(
      "SELECT a.stage, a.name, a.path, a.sha256, a.bytes FROM artifacts a "
      "LEFT JOIN stages s ON s.run_id = a.run_id AND s.name = a.stage WHERE a.run_id = ? "
      "ORDER BY s.position, a.name");
  q.Bind(1, run_id);
  std::vector<ArtifactRecord> out;
  while (q.Step()) out.push_back({q.Text(0), q.Text(1), Resolve(q.Text(2)).string(), q.Text(3), q.Int(4)});
  return out;
}

std::map<std::string, std::string> RunStore::Environment(const std::string& run_id) {
  Statement& q = db_->Cached("SELECT key, value FROM environment WHERE run_id = ?");
  q.Bind(1, run_id);
  std::map<std::string, std::string> out;
  while (q.Step()) out.emplace(q.Text(0), q.Text(1));
  return out;
}

void RunStore::ReopenRun(const std::string& run_id, int64_t pid, const std::string& host, const std::string& command) {
  db_->WriteTransaction([&] {
    db_->Cached(
           "UPDATE runs SET status = 'running', error = NULL, ended_at = NULL, pid = ?, host = ?, "
           "command = command || ?, heartbeat_at = ? WHERE id = ?")
        .Bind(1, pid)
        .Bind(2, host)
        .Bind(3, "\n" + command)
        .Bind(4, UnixNow())
        .Bind(5, run_id)
        .Run();
  });
}

// ---------------------------------------------------------------- model registry

namespace {

std::vector<ModelRecord> ReadModels(const RunStore& store, Database& db, Statement& q) {
  std::vector<ModelRecord> out;
  while (q.Step()) {
    ModelRecord m;
    m.name = q.Text(0);
    m.version = q.Int(1);
    m.run_id = q.OptionalText(2);
    m.stage = q.Text(3);
    m.path = store.Resolve(q.Text(4)).string();
    m.created_at = q.Text(5);
    m.description = q.Text(6);
    m.manifest = q.Text(7);
    if (std::optional<std::string> files = q.OptionalText(8)) {
      try {
        m.files = nlohmann::json::parse(*files).get<std::map<std::string, std::string>>();
      } catch (const nlohmann::json::exception&) {
        throw StoreError("model " + m.name + " v" + std::to_string(m.version) +
                         ": the store's record of its files is malformed");
      }
    }
    out.push_back(std::move(m));
  }
  for (ModelRecord& m : out) {
    Statement& a = db.Cached("SELECT alias FROM model_aliases WHERE name = ? AND version = ? ORDER BY alias");
    a.Bind(1, m.name).Bind(2, m.version);
    while (a.Step()) m.aliases.push_back(a.Text(0));
  }
  return out;
}

constexpr const char* kModelColumns = "name, version, run_id, stage, path, created_at, description, manifest, files";

// The SHA-256 of every file under `folder`, keyed by its path relative to it.
std::map<std::string, std::string> DigestFolder(const fs::path& folder) {
  std::map<std::string, std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string digest;
    if (Status s = Sha256File(it->path().string(), digest); !s.ok()) throw StoreError(s.message());
    files[it->path().lexically_relative(folder).generic_string()] = digest;
  }
  if (ec) throw StoreError("cannot read " + folder.string() + ": " + ec.message());
  return files;
}

}  // namespace

ModelRecord RunStore::RegisterModel(const std::string& name, const std::optional<std::string>& run_id,
                                    const std::string& stage, const fs::path& bundle_dir,
                                    const std::string& description) {
  if (!IsValidName(name)) {
    throw StoreError("invalid model name '" + Excerpt(name) + "': use " + kNameRule);
  }
  if (in_memory()) throw StoreError("an in-memory store keeps no models");
  std::ifstream manifest_in(bundle_dir / bundle::kManifestFile);
  if (!manifest_in) throw StoreError(bundle_dir.string() + " has no manifest.json");
  const std::string manifest_text((std::istreambuf_iterator<char>(manifest_in)), std::istreambuf_iterator<char>());
  nlohmann::ordered_json manifest;
  try {
    manifest = nlohmann::ordered_json::parse(manifest_text);
  } catch (const nlohmann::json::exception& e) {
    throw StoreError(bundle_dir.string() + "/manifest.json: " + MessageExcerpt(e));
  }
  // The slow part (copying and digesting the weights) happens before the write lock is
  // taken, in a staging folder: sweep workers writing metrics are not held up by it.
  // (Named after the run, whose end tells that the copy is a leftover: RemoveLeftovers.)
  const fs::path staging = dir_ / "models" / name / (".incoming-" + (run_id ? *run_id + "-" : "") + NewRunId());
  std::error_code ec;
  fs::create_directories(staging.parent_path(), ec);
  fs::copy(bundle_dir, staging, fs::copy_options::recursive, ec);
  if (ec) {
    fs::remove_all(staging, ec);
    throw StoreError("cannot copy the bundle to " + staging.string() + ": " + ec.message());
  }
  ModelRecord record;
  record.files = DigestFolder(staging);
  fs::path target;
  try {
    db_->WriteTransaction([&] {
      Statement& q = db_->Cached("SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE name = ?");
      q.Bind(1, name);
      q.Step();
      record.version = q.Int(0);
      q.Reset();  // a cached statement left on a row would hold a read snapshot open
      record.name = name;
      record.run_id = run_id;
      record.stage = stage;
      record.created_at = IsoTime(UnixNow());
      record.description = description;
      target = dir_ / "models" / name / ("v" + std::to_string(record.version));
      std::error_code rename_error;
      fs::remove_all(target, rename_error);  // a leftover of an aborted registration
      fs::rename(staging, target, rename_error);
      if (rename_error)
        throw StoreError("cannot register the bundle as " + target.string() + ": " + rename_error.message());
      record.path = target.string();
      // The registered copy's manifest says what it was registered as.
      manifest["name"] = name;
      manifest["version"] = record.version;
      manifest["registered_at"] = record.created_at;
      record.manifest = manifest.dump(2);
      std::ofstream manifest_out(target / bundle::kManifestFile, std::ios::trunc);
      manifest_out << record.manifest << "\n";
      manifest_out.close();
      if (!manifest_out) throw StoreError("cannot write " + (target / bundle::kManifestFile).string());
      std::string digest;
      if (Status s = Sha256File((target / bundle::kManifestFile).string(), digest); !s.ok())
        throw StoreError(s.message());
      record.files[bundle::kManifestFile] = digest;
      db_->Cached(std::string("INSERT INTO models (") + kModelColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
          .Bind(1, name)
          .Bind(2, record.version)
          .Bind(3, run_id)
          .Bind(4, stage)
          .Bind(5, Relative(target))
          .Bind(6, record.created_at)
          .Bind(7, description)
          .Bind(8, record.manifest)
          .Bind(9, nlohmann::json(record.files).dump())
          .Run();
    });
  } catch (...) {
    fs::remove_all(staging, ec);
    if (!target.empty()) fs::remove_all(target, ec);
    throw;
  }
  return record;
}

std::vector<ModelRecord> RunStore::ListModels(const std::optional<std::string>& name) {
  Statement& q = db_->Cached(std::string("SELECT ") + kModelColumns + " FROM models" + (name ? " WHERE name = ?" : "") +
                             " ORDER BY name, version DESC");
  if (name) q.Bind(1, *name);
  return ReadModels(*this, *db_, q);
}

ModelRecord RunStore::FindModel(const std::string& reference) {
  std::string name = reference;
  std::optional<int64_t> version;
  std::optional<std::string> alias;
  if (auto at = reference.find('@'); at != std::string::npos) {
    name = reference.substr(0, at);
    alias = reference.substr(at + 1);
  } else if (auto colon = reference.find(':'); colon != std::string::npos) {
    name = reference.substr(0, colon);
    const std::string digits = reference.substr(colon + 1);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) {
      throw StoreError("'" + Excerpt(reference) + "': a model version is a number (NAME:VERSION)");
    }
    version = std::stoll(digits);
  }
  if (alias) {
    Statement& a = db_->Cached("SELECT version FROM model_aliases WHERE name = ? AND alias = ?");
    a.Bind(1, name).Bind(2, *alias);
    if (!a.Step()) throw StoreError("model '" + Excerpt(name) + "' has no alias '" + Excerpt(*alias) + "'");
    version = a.Int(0);
    a.Reset();
  }
  std::vector<ModelRecord> all = ListModels(name);
  if (all.empty()) throw StoreError("no registered model named '" + Excerpt(name) + "' in " + dir_.string());
  if (!version) return all.front();  // newest
  for (ModelRecord& m : all) {
    if (m.version == *version) return m;
  }
  throw StoreError("model '" + Excerpt(name) + "' has no version " + std::to_string(*version) + " (newest is " +
                   std::to_string(all.front().version) + ")");
}

void RunStore::SetAlias(const std::string& name, const std::string& alias, int64_t version) {
  if (!IsValidName(alias)) throw StoreError("invalid alias '" + Excerpt(alias) + "': use " + std::string(kNameRule));
  FindModel(name + ":" + std::to_string(version));  // exists, or a readable error
  db_->WriteTransaction([&] {
    db_->Cached(
           "INSERT INTO model_aliases (name, alias, version, updated_at) VALUES (?, ?, ?, ?) "
           "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at")
        .Bind(1, name)
        .Bind(2, alias)
        .Bind(3, version)
        .Bind(4, IsoTime(UnixNow()))
        .Run();
  });
}

// ---------------------------------------------------------------- MetricWriter

MetricWriter::MetricWriter(RunStore& store, std::string run_id, size_t batch_size, int flush_interval_ms)
    : store_(store),
      run_id_(std::move(run_id)),
      batch_size_(batch_size),
      flush_interval_s_(flush_interval_ms / 1000.0),
      last_flush_(UnixNow()) {
  buffer_.reserve(batch_size_);
}

MetricWriter::~MetricWriter() {
  try {
    Flush();
  } catch (...) {
    // The destructor runs on error paths; the caller already reports the failure.
  }
}

uint32_t MetricWriter::Intern(std::string_view key) {
  // Few distinct keys per run: a linear scan beats hashing, most recent first.
  for (size_t i = keys_.size(); i-- > 0;) {
    if (keys_[i] == key) return static_cast<uint32_t>(i);
  }
  keys_.emplace_back(key);
  series_.push_back(0);
  return static_cast<uint32_t>(keys_.size() - 1);
}

int64_t MetricWriter::SeriesId(uint32_t key) {
  if (series_[key] != 0) return series_[key];
  Database& db = store_.db();
  // The series, made or found, and its id, in one statement (the no-op update makes an
  // existing row return its id).
  Statement& q = db.Cached(
      "INSERT INTO metric_series (run_id, key) VALUES (?, ?) ON CONFLICT (run_id, key) DO UPDATE SET key = "
      "excluded.key RETURNING id");
  q.Bind(1, run_id_).Bind(2, keys_[key]);
  if (!q.Step()) throw StoreError("cannot create metric series " + keys_[key]);
  series_[key] = q.Int(0);
  q.Reset();  // a cached statement left on a row would hold a read snapshot open
  return series_[key];
}

void MetricWriter::Log(std::string_view key, int64_t step, double value) {
  const double now = UnixNow();
  buffer_.push_back({Intern(key), step, value, now});
  if (buffer_.size() >= batch_size_ || now - last_flush_ >= flush_interval_s_) Flush();
}

void MetricWriter::InsertPoints(Database& db, const std::vector<const Point*>& last) {
  constexpr size_t kRowsPerStatement = 250;  // 750 bound values
  // Within one statement a (series, step) may appear once: a step logged twice in the
  // buffer keeps its last value, as the row-by-row upsert does.
  std::vector<std::vector<const Point*>> by_key(keys_.size());
  std::map<std::pair<uint32_t, int64_t>, size_t> seen;
  for (const Point& p : buffer_) {
    auto [it, fresh] = seen.try_emplace({p.key, p.step}, by_key[p.key].size());
    if (fresh) {
      by_key[p.key].push_back(&p);
    } else {
      by_key[p.key][it->second] = &p;
    }
  }
  // Per series, one statement that makes or finds it, moves its newest point (the last
  // one logged, unless the stored one has a later step) and adds the points: nothing to
  // wait for, so the whole flush is one round trip.
  for (uint32_t key = 0; key < by_key.size(); ++key) {
    const std::vector<const Point*>& points = by_key[key];
    for (size_t begin = 0; begin < points.size(); begin += kRowsPerStatement) {
      const size_t n = std::min(kRowsPerStatement, points.size() - begin);
      std::string sql =
          "WITH s AS (INSERT INTO metric_series (run_id, key, last_step, last_value) VALUES (?1, ?2, ?3, ?4) "
          "ON CONFLICT (run_id, key) DO UPDATE SET "
          "last_step = CASE WHEN metric_series.last_step IS NULL OR metric_series.last_step <= excluded.last_step "
          "THEN excluded.last_step ELSE metric_series.last_step END, "
          "last_value = CASE WHEN metric_series.last_step IS NULL OR metric_series.last_step <= excluded.last_step "
          "THEN excluded.last_value ELSE metric_series.last_value END RETURNING id) "
          "INSERT INTO metric_points (series_id, step, value, logged_at) SELECT s.id, v.step, v.value, v.logged_at "
          "FROM s, (VALUES ";
      for (size_t i = 0; i < n; ++i) {
        const size_t at = 5 + 3 * i;
        sql += (i ? ", (?" : "(?") + std::to_string(at) + "::bigint, ?" + std::to_string(at + 1) + "::float8, ?" +
               std::to_string(at + 2) + "::float8)";
      }
      sql +=
          ") AS v (step, value, logged_at) "
          "ON CONFLICT (series_id, step) DO UPDATE SET value = excluded.value, logged_at = excluded.logged_at";
      Statement& q = db.Cached(sql);
      const Point& newest = *last[key];
      q.Bind(1, run_id_).Bind(2, keys_[key]).Bind(3, newest.step);
      if (std::isnan(newest.value)) {
        q.BindNull(4);
      } else {
        q.Bind(4, newest.value);
      }
      int index = 5;
      for (size_t i = 0; i < n; ++i, index += 3) {
        const Point& p = *points[begin + i];
        q.Bind(index, p.step);
        if (std::isnan(p.value)) {
          q.BindNull(index + 1);
        } else {
          q.Bind(index + 1, p.value);
        }
        q.Bind(index + 2, p.logged_at);
      }
      q.Queue();
    }
  }
}

void MetricWriter::Flush(const std::function<void()>& also) {
  last_flush_ = UnixNow();
  if (buffer_.empty()) {
    if (also) store_.Together(also);
    return;
  }
  Database& db = store_.db();
  // The series ids committed before: a transaction rolled back takes the series it made
  // with it.
  const std::vector<int64_t> known = series_;
  std::vector<const Point*> last(keys_.size(), nullptr);  // each series' last point logged
  for (const Point& p : buffer_) last[p.key] = &p;
  const auto write = [&] {
    if (db.dialect() == Dialect::kPostgres) {
      // A server: many points per statement, every statement sent at once, where SQLite
      // takes each point in a microsecond.
      InsertPoints(db, last);
      if (also) also();
      return;
    }
    series_ = known;
    for (const Point& p : buffer_) SeriesId(p.key);
    Statement& insert = db.Cached(
        "INSERT INTO metric_points (series_id, step, value, logged_at) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (series_id, step) DO UPDATE SET value = excluded.value, logged_at = excluded.logged_at");
    for (const Point& p : buffer_) {
      insert.Bind(1, series_[p.key]).Bind(2, p.step);
      if (std::isnan(p.value)) {
        insert.BindNull(3);
      } else {
        insert.Bind(3, p.value);
      }
      insert.Bind(4, p.logged_at);
      insert.Step();
      insert.Reset();
    }
    // The series' newest point: the last one logged, unless an older step came last.
    Statement& latest = db.Cached(
        "UPDATE metric_series SET last_step = ?2, last_value = ?3 "
        "WHERE id = ?1 AND (last_step IS NULL OR last_step <= ?2)");
    for (const Point* p : last) {
      if (!p) continue;
      latest.Bind(1, series_[p->key]).Bind(2, p->step);
      if (std::isnan(p->value)) {
        latest.BindNull(3);
      } else {
        latest.Bind(3, p->value);
      }
      latest.Queue();
    }
    if (also) also();
  };
  try {
    db.WriteTransaction(write);
  } catch (...) {
    series_ = known;
    throw;
  }
  written_ += static_cast<int64_t>(buffer_.size());
  for (const Point* p : last) {
    if (!p) continue;
    auto [it, fresh] = latest_.try_emplace(keys_[p->key], LatestMetric{keys_[p->key], p->step, p->value});
    if (!fresh && it->second.step <= p->step) it->second = {keys_[p->key], p->step, p->value};
  }
  buffer_.clear();
}

}  // namespace sluice::store
