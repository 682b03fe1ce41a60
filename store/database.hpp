// The store's SQL layer: a connection, prepared statements, and write transactions that
// wait for other writers instead of failing, over one of two engines:
//   SQLite      a file (the default store, `--store DIR` holds DIR/runs.db), WAL mode;
//   PostgreSQL  a server (`--store postgresql://USER@HOST:PORT/DB`), through libpq.
// The store's SQL is written once, in the subset both understand: `?` placeholders
// (`?N` numbered), `INSERT ... ON CONFLICT`, standard types. Where they differ (schema
// DDL, JSON and time functions, catalog queries) the caller asks dialect().
#ifndef SLUICE_STORE_DATABASE_HPP_
#define SLUICE_STORE_DATABASE_HPP_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace sluice::store {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The database file is damaged (SQLite: not a database, or a malformed page): nothing
// this process does will mend it, and the message says what the user can do.
class DamagedStoreError : public StoreError {
 public:
  using StoreError::StoreError;
};

// A conflict between concurrent transactions that the engine resolved by aborting one of
// them (PostgreSQL: a deadlock or a serialization failure): running the transaction
// again is the cure. WriteTransaction does.
class RetryableError : public StoreError {
 public:
  using StoreError::StoreError;
};

enum class Dialect { kSqlite, kPostgres };

// What a backend implements for one statement (see Statement).
class StatementBackend {
 public:
  virtual ~StatementBackend() = default;
  virtual void BindInt(int index, int64_t value) = 0;
  virtual void BindDouble(int index, double value) = 0;
  virtual void BindText(int index, std::string_view value) = 0;
  virtual void BindNull(int index) = 0;
  virtual bool Step() = 0;
  // Runs a statement whose rows and change count nobody reads (see Statement::Queue),
  // and leaves it ready to be bound and run again.
  virtual void Queue() {
    while (Step()) {
    }
    Reset();
  }
  virtual void Reset() = 0;
  virtual void ClearBindings() = 0;
  virtual bool IsNull(int column) const = 0;
  virtual bool IsText(int column) const = 0;
  virtual int64_t Int(int column) const = 0;
  virtual double Double(int column) const = 0;
  virtual std::string Text(int column) const = 0;
};

class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementBackend> backend) : backend_(std::move(backend)) {}
  Statement(Statement&& other) noexcept = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;

  // Binding is 1-based, as in SQLite.
  Statement& Bind(int index, int64_t value) { return backend_->BindInt(index, value), *this; }
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, double value) { return backend_->BindDouble(index, value), *this; }
  Statement& Bind(int index, std::string_view value) { return backend_->BindText(index, value), *this; }
  Statement& Bind(int index, const char* value) { return Bind(index, std::string_view(value)); }
  Statement& Bind(int index, const std::string& value) { return Bind(index, std::string_view(value)); }
  Statement& BindNull(int index) { return backend_->BindNull(index), *this; }
  Statement& Bind(int index, const std::optional<std::string>& value) {
    return value ? Bind(index, *value) : BindNull(index);
  }
  Statement& Bind(int index, const std::optional<int64_t>& value) {
    return value ? Bind(index, *value) : BindNull(index);
  }
  Statement& Bind(int index, const std::optional<double>& value) {
    return value ? Bind(index, *value) : BindNull(index);
  }

  // Steps once; true while a row is available.
  bool Step() { return backend_->Step(); }
  // Steps until done (for statements without rows).
  void Run() {
    while (Step()) {
    }
  }
  // Runs a write whose rows and change count are not read. Inside a write transaction
  // the engine may send it with the transaction's next statement or its commit instead of
  // waiting for it here (PostgreSQL: libpq's pipeline mode, one round trip for all), so
  // its error, with the same message, comes from there. Outside one it runs now.
  void Queue() { backend_->Queue(); }
  // Makes the statement runnable again; bindings are kept.
  void Reset() { backend_->Reset(); }
  void ClearBindings() { backend_->ClearBindings(); }

  bool IsNull(int column) const { return backend_->IsNull(column); }
  bool IsText(int column) const { return backend_->IsText(column); }  // text or a blob, not a number
  int64_t Int(int column) const { return backend_->Int(column); }
  double Double(int column) const { return backend_->Double(column); }
  std::string Text(int column) const { return backend_->Text(column); }
  std::optional<std::string> OptionalText(int column) const {
    if (IsNull(column)) return std::nullopt;
    return Text(column);
  }
  std::optional<double> OptionalDouble(int column) const {
    if (IsNull(column)) return std::nullopt;
    return Double(column);
  }

 private:
  std::unique_ptr<StatementBackend> backend_;
};

// What a backend implements for one connection (see Database).
class DatabaseBackend {
 public:
  virtual ~DatabaseBackend() = default;
  virtual Dialect dialect() const = 0;
  virtual void Exec(std::string_view sql) = 0;
  virtual std::unique_ptr<StatementBackend> Prepare(std::string_view sql, bool reused) = 0;
  virtual int64_t Changes() const = 0;
  // Begins a transaction that holds the store's write lock until it ends (SQLite: BEGIN
  // IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so writers take turns
  // as they do on SQLite, whichever engine.
  virtual void BeginWrite() = 0;
  // With `confirm` false, the engine may send the commit and return before the server
  // answers: the answer is read with the next statement that waits for one, or by
  // Confirm() (see Database::ConfirmLater).
  virtual void Commit(bool confirm) = 0;
  virtual void Rollback() noexcept = 0;
  // Waits for every commit sent and not yet answered; throws the first error among them.
  virtual void Confirm() {}
};

class Database {
 public:
  enum class Mode {
    kReadWrite,  // opens or creates the database
    kReadOnly,   // never writes, never creates a file: works for another user's store
                 // and on a read-only mount
  };
  // Opens `location`: a postgresql:// URL (libpq's connection URI), or a SQLite file
  // path (":memory:" for an in-memory database). Concurrent writers from other
  // processes wait rather than fail.
  explicit Database(const std::string& location, Mode mode = Mode::kReadWrite);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  static bool IsUrl(std::string_view location) {
    return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
  }

  Dialect dialect() const { return backend_->dialect(); }
  void Exec(std::string_view sql) { backend_->Exec(sql); }
  Statement Prepare(std::string_view sql) { return Statement(backend_->Prepare(sql, false)); }
  // The same statement every time for the same SQL, compiled once per connection and
  // handed out reset with no bindings. For fixed SQL text. Step it to completion (Run(),
  // `while (Step())`) or Reset() it after reading: a statement left on a row keeps a read
  // snapshot open, and a write transaction begun over an old snapshot cannot wait its
  // way to the lock ("database is locked").
  Statement& Cached(std::string_view sql);
  int64_t Changes() const { return backend_->Changes(); }
  // The file, or the URL without its password.
  const std::string& path() const { return path_; }
  bool read_only() const { return mode_ == Mode::kReadOnly; }

  // Runs `body` inside a write transaction (see DatabaseBackend::BeginWrite), rolling
  // back if it throws. A transaction the engine aborted for a conflict (RetryableError)
  // runs again, with backoff, until `kWriteDeadlineSeconds`: `body` may run more than
  // once, so it must not consume what it writes before the commit.
  //
  // A write transaction or a Write begun inside `body` joins this one: its statements
  // commit with it, and a retry runs the whole of this `body` again. Writes of one run
  // done together (the run's row and its stages; a stage's end and its environment) take
  // one transaction and one round trip to a server instead of one each.
  template <class F>
  void WriteTransaction(F&& body) {
    if (writing_) return body();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kWriteDeadlineSeconds);
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
      backend_->BeginWrite();
      writing_ = true;
      try {
        body();
        writing_ = false;
        backend_->Commit(confirm_);
        return;
      } catch (const RetryableError&) {
        writing_ = false;
        backend_->Rollback();
        if (std::chrono::steady_clock::now() > deadline) throw;
      } catch (...) {
        writing_ = false;
        backend_->Rollback();
        throw;
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(200));
    }
  }

  // A write of one statement, which is atomic by itself: on PostgreSQL it runs without a
  // transaction of its own or the store's write lock (two round trips fewer), with the
  // same retries; on SQLite it is a WriteTransaction. Inside a write transaction it is
  // part of that.
  template <class F>
  void Write(F&& body) {
    if (writing_ || dialect() != Dialect::kPostgres) return WriteTransaction(std::forward<F>(body));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kWriteDeadlineSeconds);
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
      try {
        body();
        return;
      } catch (const RetryableError&) {
        if (std::chrono::steady_clock::now() > deadline) throw;
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(200));
    }
  }

  static constexpr int kWriteDeadlineSeconds = 120;

  // While one lives, write transactions on PostgreSQL are committed without waiting for
  // the server's answer: the commit goes out at once (the server applies it and frees the
  // store's lock as usual), and its answer is read with the next statement that waits for
  // one on this connection, or at the latest when the scope ends. A process that loops
  // on short transactions (a sweep's trials) saves a round trip each. An error of such a
  // commit comes from that later statement, naming the write that failed, and is never
  // retried there (the body that wrote it is gone); the statements sent after it are not
  // applied. SQLite commits as always.
  class ConfirmLater {
   public:
    explicit ConfirmLater(Database& db) : db_(db), outer_(db.confirm_) { db.confirm_ = false; }
    ~ConfirmLater() {
      db_.confirm_ = outer_;
      try {
        db_.backend_->Confirm();
      } catch (...) {  // the scope is left by an error already, or Confirm() was called
      }
    }
    ConfirmLater(const ConfirmLater&) = delete;
    ConfirmLater& operator=(const ConfirmLater&) = delete;

    // Waits for the commits sent so far; throws the first error among them.
    void Confirm() { db_.backend_->Confirm(); }

   private:
    Database& db_;
    bool outer_;
  };

 private:
  std::unique_ptr<DatabaseBackend> backend_;
  std::string path_;
  Mode mode_;
  bool writing_ = false;  // inside a write transaction
  bool confirm_ = true;   // false inside a ConfirmLater
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> cache_;
};

// The backends (sqlite.cpp, postgres.cpp).
std::unique_ptr<DatabaseBackend> OpenSqlite(const std::string& path, Database::Mode mode);
std::unique_ptr<DatabaseBackend> OpenPostgres(const std::string& url, Database::Mode mode);
// `url` without the password it may carry (for messages and records).
std::string RedactUrl(const std::string& url);

}  // namespace sluice::store

#endif  // SLUICE_STORE_DATABASE_HPP_
