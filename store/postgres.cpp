// The PostgreSQL backend of the store's SQL layer (database.hpp), through libpq.
#include <libpq-fe.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
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

class PgStatement final : public StatementBackend {
 public:
  PgStatement(PGconn* conn, std::string_view sql, std::string prepared, int64_t* changes)
      : conn_(conn), sql_(Translate(sql)), prepared_(std::move(prepared)), changes_(changes) {
    if (!prepared_.empty()) {
      PGresult* r = PQprepare(conn_, prepared_.c_str(), sql_.c_str(), 0, nullptr);
      Check(conn_, r, "cannot prepare '" + sql_.substr(0, 60) + "'");
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
  void Execute() {
    std::vector<const char*> values;
    values.reserve(params_.size());
    for (const auto& p : params_) values.push_back(p ? p->c_str() : nullptr);
    const int n = static_cast<int>(values.size());
    PGresult* r = prepared_.empty() ? PQexecParams(conn_, sql_.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0)
                                    : PQexecPrepared(conn_, prepared_.c_str(), n, values.data(), nullptr, nullptr, 0);
    Check(conn_, r, "cannot execute '" + sql_.substr(0, 60) + "'");
    result_ = r;
    row_ = -1;
    const char* tuples = PQcmdTuples(r);
    *changes_ = tuples && *tuples ? std::strtoll(tuples, nullptr, 10) : 0;
  }

  PGconn* conn_;
  std::string sql_;
  std::string prepared_;  // the server-side prepared statement's name, or empty
  int64_t* changes_;
  std::vector<std::optional<std::string>> params_;
  PGresult* result_ = nullptr;
  int row_ = -1;
};

class PgDatabase final : public DatabaseBackend {
 public:
  PgDatabase(const std::string& url, Database::Mode mode) {
    conn_ = PQconnectdb(url.c_str());
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      const std::string message = Trimmed(conn_ ? PQerrorMessage(conn_) : "out of memory");
      PQfinish(conn_);
      conn_ = nullptr;
      throw StoreError("cannot connect to the store " + RedactUrl(url) + ": " + message);
    }
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    Exec("SET client_min_messages = warning");
    if (mode == Database::Mode::kReadOnly) Exec("SET default_transaction_read_only = on");
  }
  ~PgDatabase() override { PQfinish(conn_); }

  Dialect dialect() const override { return Dialect::kPostgres; }

  void Exec(std::string_view sql) override {
    const std::string text(sql);
    PGresult* r = PQexec(conn_, text.c_str());
    Check(conn_, r, "store: cannot run '" + text.substr(0, 60) + "'");
    const char* tuples = PQcmdTuples(r);
    changes_ = tuples && *tuples ? std::strtoll(tuples, nullptr, 10) : 0;
    PQclear(r);
  }

  std::unique_ptr<StatementBackend> Prepare(std::string_view sql, bool reused) override {
    return std::make_unique<PgStatement>(conn_, sql, reused ? "sluice_" + std::to_string(++prepared_) : "", &changes_);
  }
  int64_t Changes() const override { return changes_; }

  // Writers take turns on one transaction-scoped advisory lock (the store's key:
  // 0x736c75696365, "sluice"), as SQLite's writers do on its file lock: what a write
  // transaction reads is what it writes over.
  void BeginWrite() override {
    try {
      Exec("BEGIN; SELECT pg_advisory_xact_lock(126896037454693)");  // one round trip
    } catch (...) {
      Rollback();
      throw;
    }
  }
  void Commit() override { Exec("COMMIT"); }
  void Rollback() noexcept override { PQclear(PQexec(conn_, "ROLLBACK")); }

 private:
  PGconn* conn_ = nullptr;
  int64_t changes_ = 0;
  int prepared_ = 0;
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
