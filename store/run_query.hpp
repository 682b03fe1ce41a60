// `sluice runs list --where EXPR --order-by KEY`: a small expression language over runs,
// compiled to SQL whose values are all bound parameters.
//
//   EXPR   := OR ;  OR := AND ('or' AND)* ;  AND := NOT ('and' NOT)* ;
//   NOT    := 'not' NOT | '(' EXPR ')' | FIELD OP VALUE | VALUE OP FIELD
//   OP     := = == != <> < <= > >= like
//   FIELD  := status | pipeline | id | host | error | started_at | ended_at | duration
//           | study | trial | params.STAGE.KEY | metrics.STAGE.KEY | tags.KEY
//           | min(metrics.STAGE.KEY) | max(metrics.STAGE.KEY)   (over the series' points)
//           | metrics.STAGE.KEY@STEP   (the value at STEP: the last logged at or before it)
//   VALUE  := number | "string" | 'string' | true | false
//
// A comparison whose field a run lacks (a metric it never logged) is false for that run.
// Parameters are JSON: compared with a number they compare as numbers (true is 1, false
// 0), with a string as text; `like` ignores ASCII case, on both engines.
#ifndef SLUICE_STORE_RUN_QUERY_HPP_
#define SLUICE_STORE_RUN_QUERY_HPP_

#include <cstddef>
#include <stdexcept>
#include <string>

#include "run_store.hpp"

namespace sluice::store {

// A malformed expression: `column` (0-based) is where in the text it went wrong.
class QueryError : public std::runtime_error {
 public:
  QueryError(const std::string& message, size_t column) : std::runtime_error(message), column_(column) {}
  size_t column() const { return column_; }
  // "MESSAGE\n  TEXT\n  ^" with the caret under `column`, for the terminal.
  std::string Render(const std::string& text) const;

 private:
  size_t column_;
};

// Each compiles to the SQL of the store's engine (RunStore::db().dialect()).
SqlFragment CompileWhere(const std::string& expression, Dialect dialect = Dialect::kSqlite);  // throws QueryError
// "FIELD [asc|desc]"; throws QueryError
SqlFragment CompileOrderBy(const std::string& key, Dialect dialect = Dialect::kSqlite);
// One FIELD as SQL, its value (a number or a text); throws QueryError
SqlFragment FieldExpression(const std::string& field, Dialect dialect = Dialect::kSqlite);

}  // namespace sluice::store

#endif  // SLUICE_STORE_RUN_QUERY_HPP_
