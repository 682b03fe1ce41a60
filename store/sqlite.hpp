// A thin RAII layer over SQLite: a connection, prepared statements, and write
// transactions that wait for other processes instead of failing.
#ifndef SLUICE_STORE_SQLITE_HPP_
#define SLUICE_STORE_SQLITE_HPP_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace sluice::store {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;

  // Binding is 1-based, as in SQLite.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, double value);
  Statement& Bind(int index, std::string_view value);
  Statement& Bind(int index, const char* value) { return Bind(index, std::string_view(value)); }
  Statement& Bind(int index, const std::string& value) { return Bind(index, std::string_view(value)); }
  Statement& BindNull(int index);
  Statement& Bind(int index, const std::optional<std::string>& value);
  Statement& Bind(int index, const std::optional<int64_t>& value);
  Statement& Bind(int index, const std::optional<double>& value);

  // Steps once; true while a row is available.
  bool Step();
  // Steps until done (for statements without rows).
  void Run();
  // Makes the statement runnable again; bindings are kept.
  void Reset();
  void ClearBindings();

  bool IsNull(int column) const;
  bool IsText(int column) const;  // text or a blob, not a number
  int64_t Int(int column) const;
  double Double(int column) const;
  std::string Text(int column) const;
  std::optional<std::string> OptionalText(int column) const;
  std::optional<double> OptionalDouble(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  enum class Mode {
    kReadWrite,  // opens or creates the file; WAL mode
    kReadOnly,   // never writes, never creates a file: works for another user's store
                 // and on a read-only mount
  };
  // Opens `path` (":memory:" for an in-memory database) with a busy timeout, so that
  // concurrent writers from other processes wait rather than fail.
  explicit Database(const std::string& path, Mode mode = Mode::kReadWrite);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void Exec(std::string_view sql);
  Statement Prepare(std::string_view sql) { return Statement(db_, sql); }
  // The same statement every time for the same SQL, compiled once per connection and
  // handed out reset with no bindings. For fixed SQL text. Step it to completion (Run(),
  // `while (Step())`) or Reset() it after reading: a statement left on a row keeps a read
  // snapshot open, and a write transaction begun over an old snapshot cannot wait its
  // way to the lock ("database is locked").
  Statement& Cached(std::string_view sql);
  int64_t Changes() const;
  const std::string& path() const { return path_; }
  bool read_only() const { return mode_ == Mode::kReadOnly; }

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT, rolling back if it throws. Taking the
  // write lock up front means a transaction never has to upgrade a read lock, the case
  // SQLite cannot resolve by waiting; contention is retried with backoff until
  // `kWriteDeadlineSeconds`.
  template <class F>
  void WriteTransaction(F&& body) {
    BeginImmediate();
    try {
      body();
    } catch (...) {
      Rollback();
      throw;
    }
    Commit();
  }

  static constexpr int kWriteDeadlineSeconds = 120;

 private:
  void BeginImmediate();
  void Commit();
  void Rollback() noexcept;

  void OpenReadOnly();

  sqlite3* db_ = nullptr;
  std::string path_;
  Mode mode_;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> cache_;
};

}  // namespace sluice::store

#endif  // SLUICE_STORE_SQLITE_HPP_
