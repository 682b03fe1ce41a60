#include "database.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <thread>

namespace sluice::store {
namespace {

// Throws `message` as the error `rc` is: a damaged file says what to do about it.
[[noreturn]] void Throw(int rc, const std::string& file, std::string message) {
  if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
    throw DamagedStoreError(message + " (the file is damaged: copy it aside as it is, then restore the store from a " +
                            "backup, or salvage what can still be read with `sqlite3 " + file +
                            " .recover > recovered.sql` (Debian's sqlite3))");
  }
  if ((rc & 0xff) == SQLITE_FULL) {
    throw StoreError(message + " (the disk holding " + file + " is full: free some space; what was written before " +
                     "is kept)");
  }
  throw StoreError(std::move(message));
}

[[noreturn]] void Fail(sqlite3* db, const std::string& what) {
  if (!db) throw StoreError(what + ": out of memory");
  const char* file = sqlite3_db_filename(db, "main");
  Throw(sqlite3_extended_errcode(db), file ? file : "", what + ": " + sqlite3_errmsg(db));
}

bool IsBusy(int rc) { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }

// Retries `attempt` while SQLite reports the database busy, with capped exponential
// backoff. The busy handler already waits inside SQLite; this covers the cases where
// SQLite returns SQLITE_BUSY without calling it (e.g. WAL recovery by another process).
template <class F>
int RetryWhileBusy(F&& attempt) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(Database::kWriteDeadlineSeconds);
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    int rc = attempt();
    if (!IsBusy(rc) || std::chrono::steady_clock::now() > deadline) return rc;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(50'000));
  }
}

class SqliteStatement final : public StatementBackend {
 public:
  SqliteStatement(sqlite3* db, std::string_view sql) : db_(db) {
    int rc = RetryWhileBusy(
        [&] { return sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr); });
    if (rc != SQLITE_OK) Fail(db_, "cannot prepare '" + std::string(sql.substr(0, 60)) + "'");
  }
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }

  void BindInt(int index, int64_t value) override {
    if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) Fail(db_, "bind");
  }
  void BindDouble(int index, double value) override {
    if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) Fail(db_, "bind");
  }
  void BindText(int index, std::string_view value) override {
    if (sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT) != SQLITE_OK) {
      Fail(db_, "bind");
    }
  }
  void BindNull(int index) override {
    if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) Fail(db_, "bind");
  }

  bool Step() override {
    int rc = RetryWhileBusy([&] {
      int r = sqlite3_step(stmt_);
      if (IsBusy(r)) sqlite3_reset(stmt_);
      return r;
    });
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
    Fail(db_, "cannot execute '" + sql.substr(0, 60) + "'");
  }
  void Reset() override { sqlite3_reset(stmt_); }
  void ClearBindings() override { sqlite3_clear_bindings(stmt_); }

  bool IsNull(int column) const override { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  bool IsText(int column) const override {
    const int type = sqlite3_column_type(stmt_, column);
    return type == SQLITE_TEXT || type == SQLITE_BLOB;
  }
  int64_t Int(int column) const override { return sqlite3_column_int64(stmt_, column); }
  double Double(int column) const override { return sqlite3_column_double(stmt_, column); }
  std::string Text(int column) const override {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    if (!text) return {};
    return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// A file: URI for `path`, with the characters URIs reserve percent-encoded.
std::string FileUri(const std::string& path, const char* query) {
  std::string uri = "file:";
  for (unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c < 0x20 || c >= 0x7f) {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", c);
      uri += escaped;
    } else {
      uri += static_cast<char>(c);
    }
  }
  return uri + "?" + query;
}

class SqliteDatabase final : public DatabaseBackend {
 public:
  SqliteDatabase(const std::string& path, Database::Mode mode) : path_(path) {
    if (mode == Database::Mode::kReadOnly) {
      OpenReadOnly();
      return;
    }
    int rc =
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw StoreError("cannot open store database " + path + ": " + message);
    }
    sqlite3_busy_timeout(db_, Database::kWriteDeadlineSeconds * 1000);
    sqlite3_extended_result_codes(db_, 1);
    try {
      Exec("PRAGMA journal_mode=WAL");
      Exec("PRAGMA synchronous=NORMAL");
      Exec("PRAGMA foreign_keys=ON");
    } catch (...) {
      sqlite3_close(db_);
      db_ = nullptr;
      throw;
    }
  }
  ~SqliteDatabase() override { sqlite3_close(db_); }

  Dialect dialect() const override { return Dialect::kSqlite; }

  void Exec(std::string_view sql) override {
    std::string text(sql);
    char* error = nullptr;
    int rc = RetryWhileBusy([&] {
      sqlite3_free(error);
      error = nullptr;
      return sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
    });
    if (rc != SQLITE_OK) {
      std::string message = error ? error : sqlite3_errmsg(db_);
      sqlite3_free(error);
      Throw(rc, path_, "store " + path_ + ": " + message + " (in '" + text.substr(0, 60) + "')");
    }
  }

  std::unique_ptr<StatementBackend> Prepare(std::string_view sql, bool /*reused*/) override {
    return std::make_unique<SqliteStatement>(db_, sql);
  }
  int64_t Changes() const override { return sqlite3_changes(db_); }

  void BeginWrite() override { Exec("BEGIN IMMEDIATE"); }
  void Commit(bool /*confirm*/) override { Exec("COMMIT"); }
  void Rollback() noexcept override { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

 private:
  // A WAL database opened read-only still needs its -shm file, which SQLite creates when
  // it is missing: impossible in a folder this user cannot write (another user's store,
  // a read-only mount). Then the file is opened as immutable: nobody can be writing it
  // through a folder nobody may write in... except its owner, whose last committed
  // transactions this reader may not see until they are checkpointed.
  void OpenReadOnly() {
    for (const char* query : {"mode=ro", "immutable=1"}) {
      int rc = sqlite3_open_v2(FileUri(path_, query).c_str(), &db_,
                               SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
      if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db_, Database::kWriteDeadlineSeconds * 1000);
        sqlite3_extended_result_codes(db_, 1);
        // Opening is lazy: the first read is what needs the -shm file.
        rc = sqlite3_exec(db_, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr);
        if (rc == SQLITE_OK) return;
      }
      const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      const bool cannot_open = (rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_READONLY;
      if (!cannot_open || std::string(query) == "immutable=1") {
        Throw(rc, path_, "cannot read store database " + path_ + ": " + message);
      }
    }
  }

  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace

std::unique_ptr<DatabaseBackend> OpenSqlite(const std::string& path, Database::Mode mode) {
  return std::make_unique<SqliteDatabase>(path, mode);
}

Database::Database(const std::string& location, Mode mode)
    : path_(IsUrl(location) ? RedactUrl(location) : location), mode_(mode) {
  backend_ = IsUrl(location) ? OpenPostgres(location, mode) : OpenSqlite(location, mode);
}

Database::~Database() {
  cache_.clear();  // statements first: a connection with live statements does not close
  backend_.reset();
}

Statement& Database::Cached(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    it = cache_.emplace(std::string(sql), std::make_unique<Statement>(backend_->Prepare(sql, true))).first;
  }
  it->second->Reset();
  it->second->ClearBindings();
  return *it->second;
}

}  // namespace sluice::store
