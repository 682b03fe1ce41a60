// The PostgreSQL backend of the store's SQL layer (database.hpp), through libpq.
#include <libpq-fe.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "database.hpp"

namespace sluice::store {

namespace {

// The type OIDs of text-like columns (pg_type.h): text, varchar, bpchar, name, json, jsonb.
bool IsTextType(Oid type) {
  return type == 25 || type == 1043 || type == 1042 || type == 19 || type == 114 || type == 3802;
}

// The store's SQL (`?` and `?N` placeholders) in PostgreSQL's (`$N`), outside quotes.
std::string Translate(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 0;
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote) {
      out += c;
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      out += c;
      continue;
    }
    if (c != '?') {
      out += c;
      continue;
    }
    size_t j = i + 1;
    while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') ++j;
    if (j > i + 1) {
      out += "$" + std::string(sql.substr(i + 1, j - i - 1));
      i = j - 1;
    } else {
      out += "$" + std::to_string(++next);
    }
  }
  return out;
}

std::string Trimmed(const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// Throws the error `result` carries (RetryableError for the conflicts a new attempt
// resolves), unless it succeeded.
void Check(PGconn* conn, PGresult* result, const std::string& what) {
  const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return;
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string message = Trimmed(result ? PQresultErrorMessage(result) : PQerrorMessage(conn));
  const std::string code = state ? state : "";
  PQclear(result);
  if (code == "40001" || code == "40P01") throw RetryableError(what + ": " + message);
  throw StoreError(what + ": " + message);
}

// One connection and the statements queued on it (Statement::Queue): inside a write
// transaction, writes whose results nobody reads go out in libpq's pipeline mode and are
// collected, with their errors, when the next statement needs an answer or at the commit
// (or later, for a commit not confirmed at once: Database::ConfirmLater).
class PgConnection {
 public:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  ~PgConnection() {
    // Commits not waited for (a ConfirmLater left by an error) are told if they failed;
    // the rest was an aborted transaction's, reported already.
    if ((committed_ > 0 || held_error) && PQstatus(conn_) == CONNECTION_OK) {
      try {
        Drain();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "sluice: %s\n", e.what());
      }
    }
    PQfinish(conn_);
  }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  PGconn* get() const { return conn_; }
  int64_t changes = 0;
  bool in_write = false;  // between BeginWrite and Commit or Rollback

  // Sends a statement without waiting for its result; `what` prefixes its error.
  void Send(const char* prepared, const char* sql, int n, const char* const* values, std::string what) {
    if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn_) != 1) {
      throw StoreError(what + ": " + Trimmed(PQerrorMessage(conn_)));
    }
    const int sent = prepared ? PQsendQueryPrepared(conn_, prepared, n, values, nullptr, nullptr, 0)
                              : PQsendQueryParams(conn_, sql, n, nullptr, values, nullptr, nullptr, 0);
    if (sent != 1) throw StoreError(what + ": " + Trimmed(PQerrorMessage(conn_)));
    pending_.push_back(std::move(what));
  }

  // The last Drain's error, where it came from a commit not waited for.
  std::optional<std::string> unconfirmed_error;
  // Such an error, found while rolling back another transaction: thrown by the next
  // Drain, so that it is not lost.
  std::optional<std::string> held_error;

  // Sends what is queued, a transaction's commit last, without waiting for the answers:
  // they are read by the next Drain. An error among them is then not retryable. Every
  // kMaxUnconfirmed-th commit waits all the same: a connection that never reads (a long
  // trial committing its metrics) learns of a failure within a few commits, and does not
  // keep every answer in memory.
  void SendUnconfirmed() {
    if (++unconfirmed_commits_ >= kMaxUnconfirmed) {
      Drain();
      return;
    }
    committed_ = pending_.size();
    if (PQflush(conn_) != 0) throw StoreError("store: cannot send to the server: " + Trimmed(PQerrorMessage(conn_)));
  }

  // Waits for every statement sent and leaves pipeline mode, throwing the first error
  // (the statements after a failed one were skipped by the server). With `keep_last`,
  // returns the last statement's result, for the caller to clear.
  PGresult* Drain(bool keep_last = false) {
    if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF) {
      if (held_error) throw StoreError(*std::exchange(held_error, std::nullopt));
      return nullptr;
    }
    std::vector<std::string> pending = std::move(pending_);
    pending_.clear();
    const size_t committed = std::exchange(committed_, 0);
    unconfirmed_commits_ = 0;
    unconfirmed_error.reset();
    std::exception_ptr error;
    PGresult* kept = nullptr;
    const auto fail = [&](const std::string& what) {
      if (!error) error = std::make_exception_ptr(StoreError(what + ": " + Trimmed(PQerrorMessage(conn_))));
    };
    if (PQpipelineSync(conn_) != 1) fail("store: cannot send to the server");
    for (size_t i = 0; i < pending.size(); ++i) {
      // A statement's results, then a null.
      while (PGresult* r = PQgetResult(conn_)) {
        if (error || PQresultStatus(r) == PGRES_PIPELINE_ABORTED) {
          PQclear(r);
          continue;
        }
        try {
          Check(conn_, r, pending[i]);
          if (keep_last && i + 1 == pending.size() && !kept) {
            kept = r;
          } else {
            PQclear(r);
          }
        } catch (const StoreError& e) {
          // One of a commit not waited for: its body is gone, and cannot run again.
          if (i < committed) unconfirmed_error = e.what();
          error = i < committed ? std::make_exception_ptr(StoreError(e.what())) : std::current_exception();
        } catch (...) {
          error = std::current_exception();
        }
      }
      if (PQstatus(conn_) == CONNECTION_BAD) break;
    }
    PGresult* sync = PQstatus(conn_) == CONNECTION_BAD ? nullptr : PQgetResult(conn_);
    const bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || PQexitPipelineMode(conn_) != 1) fail("store: the server's answers went astray");
    if (keep_last && !kept) fail("store: the server did not answer");
    if (!error && held_error) error = std::make_exception_ptr(StoreError(*std::exchange(held_error, std::nullopt)));
    // A transaction of a commit not waited for failed, and no write transaction of this
    // connection is left open to roll it back.
    if (error && !in_write && PQtransactionStatus(conn_) == PQTRANS_INERROR) PQclear(PQexec(conn_, "ROLLBACK"));
    if (error) {
      PQclear(kept);
      std::rethrow_exception(error);
    }
    return kept;
  }

 private:
  PGconn* conn_;
  std::vector<std::string> pending_;  // what each statement sent and not yet answered is
  size_t committed_ = 0;              // how many of them a commit not waited for ends
  static constexpr int kMaxUnconfirmed = 8;
  int unconfirmed_commits_ = 0;  // since the last Drain
};

class PgStatement final : public StatementBackend {
 public:
  PgStatement(PgConnection& pg, std::string_view sql, std::string prepared)
      : pg_(pg), sql_(Translate(sql)), prepared_(std::move(prepared)) {
    if (!prepared_.empty()) {
      pg_.Drain();
      PGresult* r = PQprepare(pg_.get(), prepared_.c_str(), sql_.c_str(), 0, nullptr);
      Check(pg_.get(), r, "cannot prepare '" + sql_.substr(0, 60) + "'");
      PQclear(r);
    }
  }
  ~PgStatement() override { PQclear(result_); }

  void BindInt(int index, int64_t value) override { Set(index, std::to_string(value)); }
  void BindDouble(int index, double value) override {
    if (std::isnan(value)) return Set(index, "NaN");
    if (std::isinf(value)) return Set(index, value > 0 ? "Infinity" : "-Infinity");
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", value);
    Set(index, text);
  }
  void BindText(int index, std::string_view value) override { Set(index, std::string(value)); }
  void BindNull(int index) override {
    Grow(index);
    params_[static_cast<size_t>(index - 1)].reset();
  }

  bool Step() override {
    if (!result_) Execute();
    return ++row_ < PQntuples(result_);
  }
  void Queue() override {
    Reset();
    if (!pg_.in_write) {
      Execute();
      return;
    }
    const std::vector<const char*> values = Values();
    pg_.Send(prepared_.empty() ? nullptr : prepared_.c_str(), sql_.c_str(), static_cast<int>(values.size()),
             values.data(), "cannot execute '" + sql_.substr(0, 60) + "'");
  }
  void Reset() override {
    PQclear(result_);
    result_ = nullptr;
    row_ = -1;
  }
  void ClearBindings() override { params_.clear(); }

  bool IsNull(int column) const override { return PQgetisnull(result_, row_, column) != 0; }
  bool IsText(int column) const override { return !IsNull(column) && IsTextType(PQftype(result_, column)); }
  int64_t Int(int column) const override {
    const char* v = PQgetvalue(result_, row_, column);
    if (v[0] == 't' && v[1] == '\0') return 1;  // a boolean
    return std::strtoll(v, nullptr, 10);
  }
  double Double(int column) const override {
    if (IsNull(column)) return 0;
    return std::strtod(PQgetvalue(result_, row_, column), nullptr);
  }
  std::string Text(int column) const override {
    return std::string(PQgetvalue(result_, row_, column), static_cast<size_t>(PQgetlength(result_, row_, column)));
  }

 private:
  void Grow(int index) {
    if (index < 1) throw StoreError("bind: parameter index " + std::to_string(index));
    if (params_.size() < static_cast<size_t>(index)) params_.resize(static_cast<size_t>(index));
  }
  void Set(int index, std::string value) {
    Grow(index);
    params_[static_cast<size_t>(index - 1)] = std::move(value);
  }
  std::vector<const char*> Values() const {
    std::vector<const char*> values;
    values.reserve(params_.size());
    for (const auto& p : params_) values.push_back(p ? p->c_str() : nullptr);
    return values;
  }
  void Execute() {
    const std::vector<const char*> values = Values();
    const int n = static_cast<int>(values.size());
    PGconn* conn = pg_.get();
    const std::string what = "cannot execute '" + sql_.substr(0, 60) + "'";
    PGresult* r = nullptr;
    if (PQpipelineStatus(conn) != PQ_PIPELINE_OFF) {
      // Statements are waiting to go: this one goes with them, one round trip for all.
      pg_.Send(prepared_.empty() ? nullptr : prepared_.c_str(), sql_.c_str(), n, values.data(), what);
      r = pg_.Drain(/*keep_last=*/true);
    } else {
      pg_.Drain();  // (nothing to wait for, but an error held back: Rollback)
      r = prepared_.empty() ? PQexecParams(conn, sql_.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0)
                            : PQexecPrepared(conn, prepared_.c_str(), n, values.data(), nullptr, nullptr, 0);
      Check(conn, r, what);
    }
    result_ = r;
    row_ = -1;
    const char* tuples = PQcmdTuples(r);
    pg_.changes = tuples && *tuples ? std::strtoll(tuples, nullptr, 10) : 0;
  }

  PgConnection& pg_;
  std::string sql_;
  std::string prepared_;  // the server-side prepared statement's name, or empty
  std::vector<std::optional<std::string>> params_;
  PGresult* result_ = nullptr;
  int row_ = -1;
};

PGconn* Connect(const std::string& url) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (!conn || PQstatus(conn) != CONNECTION_OK) {
    const std::string message = Trimmed(conn ? PQerrorMessage(conn) : "out of memory");
    PQfinish(conn);
    throw StoreError("cannot connect to the store " + RedactUrl(url) + ": " + message);
  }
  return conn;
}

class PgDatabase final : public DatabaseBackend {
 public:
  PgDatabase(const std::string& url, Database::Mode mode) : pg_(Connect(url)) {
    PQsetNoticeProcessor(
        pg_.get(), [](void*, const char*) {}, nullptr);
    Exec("SET client_min_messages = warning");
    if (mode == Database::Mode::kReadOnly) Exec("SET default_transaction_read_only = on");
  }

  Dialect dialect() const override { return Dialect::kPostgres; }

  void Exec(std::string_view sql) override {
    pg_.Drain();
    const std::string text(sql);
    PGresult* r = PQexec(pg_.get(), text.c_str());
    Check(pg_.get(), r, "store: cannot run '" + text.substr(0, 60) + "'");
    const char* tuples = PQcmdTuples(r);
    pg_.changes = tuples && *tuples ? std::strtoll(tuples, nullptr, 10) : 0;
    PQclear(r);
  }

  std::unique_ptr<StatementBackend> Prepare(std::string_view sql, bool reused) override {
    return std::make_unique<PgStatement>(pg_, sql, reused ? "sluice_" + std::to_string(++prepared_) : "");
  }
  int64_t Changes() const override { return pg_.changes; }

  // Writers take turns on one transaction-scoped advisory lock (the store's key:
  // 0x736c75696365, "sluice"), as SQLite's writers do on its file lock: what a write
  // transaction reads is what it writes over. BEGIN and the lock go out with the
  // transaction's first statement that waits for an answer, or with its commit.
  void BeginWrite() override {
    try {
      if (!transaction_prepared_) {  // parsed once per connection, as the store's own statements
        for (const auto& [name, sql] : kTransactionStatements) {
          pg_.Drain();
          PGresult* r = PQprepare(pg_.get(), name, sql, 0, nullptr);
          Check(pg_.get(), r, std::string("cannot prepare '") + sql + "'");
          PQclear(r);
        }
        transaction_prepared_ = true;
      }
      pg_.Send("sluice_begin", nullptr, 0, nullptr, "store: cannot begin a transaction");
      pg_.Send("sluice_lock", nullptr, 0, nullptr, "store: cannot take the store's write lock");
      pg_.in_write = true;
    } catch (...) {
      Rollback();
      throw;
    }
  }
  void Commit(bool confirm) override {
    pg_.Send("sluice_commit", nullptr, 0, nullptr, "store: cannot commit");
    pg_.in_write = false;
    if (confirm) {
      pg_.Drain();
    } else {
      pg_.SendUnconfirmed();
    }
  }
  void Rollback() noexcept override {
    pg_.in_write = false;
    try {
      pg_.Drain();
    } catch (...) {  // the error is the one being handled, or its consequence,
      // unless an earlier transaction's commit failed: that one is told next
      if (pg_.unconfirmed_error) pg_.held_error = pg_.unconfirmed_error;
    }
    PQclear(PQexec(pg_.get(), "ROLLBACK"));
  }
  void Confirm() override { pg_.Drain(); }

 private:
  static constexpr std::pair<const char*, const char*> kTransactionStatements[] = {
      {"sluice_begin", "BEGIN"},
      {"sluice_lock", "SELECT pg_advisory_xact_lock(126896037454693)"},
      {"sluice_commit", "COMMIT"}};

  PgConnection pg_;
  int prepared_ = 0;
  bool transaction_prepared_ = false;
};

}  // namespace

std::string RedactUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon) + ":***" + url.substr(at);
}

std::unique_ptr<DatabaseBackend> OpenPostgres(const std::string& url, Database::Mode mode) {
  return std::make_unique<PgDatabase>(url, mode);
}

}  // namespace sluice::store
