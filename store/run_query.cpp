#include "run_query.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "sluice/excerpt.hpp"

namespace sluice::store {

namespace {

struct Token {
  enum class Kind { kWord, kNumber, kString, kOp, kLParen, kRParen, kEnd };
  Kind kind = Kind::kEnd;
  std::string text;  // words and operators as written; strings unquoted
  double number = 0;
  size_t column = 0;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool WordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; }

std::vector<Token> Tokenize(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t;
    t.column = i;
    if (c == '(' || c == ')') {
      t.kind = c == '(' ? Token::Kind::kLParen : Token::Kind::kRParen;
      t.text = std::string(1, c);
      ++i;
    } else if (c == '"' || c == '\'') {
      const size_t end = s.find(c, i + 1);
      if (end == std::string::npos) throw QueryError("unterminated string", i);
      t.kind = Token::Kind::kString;
      t.text = s.substr(i + 1, end - i - 1);
      i = end + 1;
    } else if (std::strchr("=!<>", c)) {
      size_t n = (i + 1 < s.size() && (s[i + 1] == '=' || (c == '<' && s[i + 1] == '>'))) ? 2 : 1;
      t.kind = Token::Kind::kOp;
      t.text = s.substr(i, n);
      if (t.text == "!") throw QueryError("'!' alone is not an operator; use != or not", i);
      i += n;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               ((c == '-' || c == '+' || c == '.') && i + 1 < s.size() &&
                (std::isdigit(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '.'))) {
      char* end = nullptr;
      t.number = std::strtod(s.c_str() + i, &end);
      const size_t len = static_cast<size_t>(end - (s.c_str() + i));
      if (len == 0 || (i + len < s.size() && WordChar(s[i + len]) && s[i + len] != '.')) {
        throw QueryError("malformed number", i);
      }
      t.kind = Token::Kind::kNumber;
      t.text = s.substr(i, len);
      i += len;
    } else if (WordChar(c)) {
      size_t j = i;
      while (j < s.size() && WordChar(s[j])) ++j;
      t.kind = Token::Kind::kWord;
      t.text = s.substr(i, j - i);
      i = j;
      // A series' statistic is one field: min(metrics.K), max(metrics.K), metrics.K@STEP.
      const std::string lower = Lower(t.text);
      size_t k = i;
      while (k < s.size() && std::isspace(static_cast<unsigned char>(s[k]))) ++k;
      if ((lower == "min" || lower == "max") && k < s.size() && s[k] == '(') {
        size_t b = k + 1;
        while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
        size_t e = b;
        while (e < s.size() && WordChar(s[e])) ++e;
        size_t close = e;
        while (close < s.size() && std::isspace(static_cast<unsigned char>(s[close]))) ++close;
        if (s.compare(b, 8, "metrics.") != 0 || e == b + 8 || close >= s.size() || s[close] != ')') {
          throw QueryError(lower + "( takes one metric: " + lower + "(metrics.STAGE.KEY)", b);
        }
        t.text = lower + "(" + s.substr(b, e - b) + ")";
        i = close + 1;
      } else if (i < s.size() && s[i] == '@') {
        size_t e = i + 1;
        while (e < s.size() && std::isdigit(static_cast<unsigned char>(s[e]))) ++e;
        if (t.text.rfind("metrics.", 0) != 0 || e == i + 1 || e - i > 19 || (e < s.size() && WordChar(s[e]))) {
          throw QueryError("'@' takes a metric and a step: metrics.STAGE.KEY@STEP", i);
        }
        t.text = s.substr(t.column, e - t.column);
        i = e;
      }
    } else {
      const size_t length = std::max<size_t>(1, Utf8CharLength(s, i));
      throw QueryError("unexpected character '" + Excerpt(s.substr(i, length)) + "'", i);
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.column = s.size();
  out.push_back(end);
  return out;
}

bool IsKeyword(const Token& t, const char* word) { return t.kind == Token::Kind::kWord && Lower(t.text) == word; }

// What a field is compared with, which decides how a JSON parameter reads on PostgreSQL
// (SQLite's json_extract gives a typed value, PostgreSQL needs one type per expression).
enum class Want { kAny, kNumber, kText };

// A field as SQL over `runs`; its own bound values go to `binds`.
bool FieldSql(const std::string& name, SqlFragment& out, Dialect dialect = Dialect::kSqlite, Want want = Want::kAny) {
  const bool pg = dialect == Dialect::kPostgres;
  static const std::vector<std::pair<std::string, std::string>> kColumns = {
      {"status", "runs.status"},
      {"pipeline", "runs.pipeline"},
      {"id", "runs.id"},
      {"host", "runs.host"},
      {"error", "runs.error"},
      {"started_at", "runs.started_at"},
      {"ended_at", "runs.ended_at"},
      {"study", "runs.study_id"},
      {"trial", "runs.trial"},
      {"duration", "((julianday(runs.ended_at) - julianday(runs.started_at)) * 86400.0)"}};
  for (const auto& [field, sql] : kColumns) {
    if (name == field) {
      out.sql += pg && field == "duration"
                     ? "(EXTRACT(EPOCH FROM (runs.ended_at::timestamptz - runs.started_at::timestamptz))::float8)"
                     : sql;
      return true;
    }
  }
  // A statistic of a series: its lowest or highest value, or its value at a step (the last
  // logged at or before it).
  constexpr const char* kSeries =
      "FROM metric_points p JOIN metric_series s ON s.id = p.series_id WHERE s.run_id = runs.id AND s.key = ?";
  for (const char* stat : {"min", "max"}) {
    const std::string open = std::string(stat) + "(metrics.";
    if (name.rfind(open, 0) == 0 && name.size() > open.size() + 1 && name.back() == ')') {
      out.sql += std::string("(SELECT ") + stat + "(p.value) " + kSeries + ")";
      out.binds.emplace_back(name.substr(open.size(), name.size() - open.size() - 1));
      return true;
    }
  }
  if (const size_t at = name.rfind('@'); name.rfind("metrics.", 0) == 0 && at != std::string::npos && at > 8) {
    const std::string step = name.substr(at + 1);
    if (step.empty() || step.size() > 18 || step.find_first_not_of("0123456789") != std::string::npos) return false;
    out.sql += std::string("(SELECT p.value ") + kSeries + " AND p.step <= ? ORDER BY p.step DESC LIMIT 1)";
    out.binds.emplace_back(name.substr(8, at - 8));
    out.binds.emplace_back(static_cast<double>(std::stoll(step)));
    return true;
  }
  auto keyed = [&](const std::string& prefix, const std::string& sql) {
    if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) return false;
    out.sql += sql;
    out.binds.emplace_back(name.substr(prefix.size()));
    return true;
  };
  // PostgreSQL: a number (true 1, false 0) where one is wanted, else the JSON value as
  // text (a string without its quotes).
  const char* params =
      !pg ? "(SELECT json_extract(value, '$') FROM params WHERE run_id = runs.id AND key = ?)"
      : want == Want::kNumber
          ? "(SELECT CASE jsonb_typeof(value::jsonb) WHEN 'number' THEN (value::jsonb #>> '{}')::float8 "
            "WHEN 'boolean' THEN CASE WHEN value::jsonb = 'true'::jsonb THEN 1.0 ELSE 0.0 END END "
            "FROM params WHERE run_id = runs.id AND key = ?)"
          : "(SELECT value::jsonb #>> '{}' FROM params WHERE run_id = runs.id AND key = ?)";
  return keyed("params.", params) ||
         keyed("metrics.", "(SELECT last_value FROM metric_series WHERE run_id = runs.id AND key = ?)") ||
         keyed("tags.", "(SELECT value FROM tags WHERE run_id = runs.id AND key = ?)");
}

const char* kFieldHelp =
    "fields are status, pipeline, id, host, error, started_at, ended_at, duration, study, trial, "
    "params.STAGE.KEY, metrics.STAGE.KEY (the latest value), min(metrics.STAGE.KEY), max(metrics.STAGE.KEY), "
    "metrics.STAGE.KEY@STEP and tags.KEY";

class Parser {
 public:
  Parser(const std::string& text, Dialect dialect) : tokens_(Tokenize(text)), dialect_(dialect) {}

  SqlFragment Parse() {
    if (Peek().kind == Token::Kind::kEnd) throw QueryError("empty expression", 0);
    Or();
    if (Peek().kind != Token::Kind::kEnd) {
      throw QueryError("expected 'and', 'or' or the end of the expression, found '" + Excerpt(Peek().text) + "'",
                       Peek().column);
    }
    return std::move(out_);
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Next() { return pos_ + 1 < tokens_.size() ? tokens_[pos_++] : tokens_.back(); }

  // One operand compiled on its own: its SQL with its bindings, and how deeply it nests.
  struct Operand {
    SqlFragment sql;
    int depth = 0;
  };
  Operand Compile(void (Parser::*operand)()) {
    SqlFragment outer = std::move(out_);
    out_ = SqlFragment();
    (this->*operand)();
    Operand compiled{std::move(out_), sql_depth_};
    out_ = std::move(outer);
    return compiled;
  }

  // OPERAND (WORD OPERAND)*: OR over ANDs, AND over NOTs. SQLite's parser stack holds
  // about a hundred entries, and "a AND (b OR (c ...))" takes some four per level where
  // "((... c) OR b) AND a" takes one: so a lone operand gets no parentheses (the user's
  // redundant ones add no SQL), and since AND and OR are commutative, the most deeply
  // nested operand of a chain goes first.
  void Chain(const char* word, const char* sql_op, void (Parser::*operand)()) {
    std::vector<Operand> operands;
    operands.push_back(Compile(operand));
    while (IsKeyword(Peek(), word)) {
      Next();
      operands.push_back(Compile(operand));
    }
    if (operands.size() > 1) {
      std::stable_sort(operands.begin(), operands.end(),
                       [](const Operand& a, const Operand& b) { return a.depth > b.depth; });
    }
    const bool grouped = operands.size() > 1;
    if (grouped) out_.sql += "(";
    for (size_t i = 0; i < operands.size(); ++i) {
      if (i) out_.sql += sql_op;
      out_.sql += operands[i].sql.sql;
      out_.binds.insert(out_.binds.end(), operands[i].sql.binds.begin(), operands[i].sql.binds.end());
    }
    if (grouped) out_.sql += ")";
    sql_depth_ = operands.front().depth + (grouped ? 1 : 0);
  }
  void Or() { Chain("or", " OR ", &Parser::And); }
  void And() { Chain("and", " AND ", &Parser::Not); }

  // Nesting ('not' and parentheses) and comparisons are bounded: this parser recurses
  // once per level, and SQLite's parser and expression depth are limited.
  static constexpr int kMaxDepth = 64;
  static constexpr int kMaxComparisons = 256;

  void Not() {
    if (IsKeyword(Peek(), "not") || Peek().kind == Token::Kind::kLParen) {
      if (++depth_ > kMaxDepth) {
        throw QueryError("the expression nests 'not' and parentheses more than " + std::to_string(kMaxDepth) + " deep",
                         Peek().column);
      }
    }
    if (IsKeyword(Peek(), "not")) {
      Next();
      out_.sql += "NOT ";
      Not();
      ++sql_depth_;
      --depth_;
      return;
    }
    if (Peek().kind == Token::Kind::kLParen) {
      const Token& open = Next();
      Or();
      --depth_;
      if (Peek().kind != Token::Kind::kRParen) {
        throw QueryError("expected ')' to close the '(' at column " + std::to_string(open.column + 1), Peek().column);
      }
      Next();
      return;
    }
    Comparison();
  }

  bool IsValue(const Token& t) const {
    return t.kind == Token::Kind::kNumber || t.kind == Token::Kind::kString || IsKeyword(t, "true") ||
           IsKeyword(t, "false");
  }

  void Value(const Token& t) {
    if (t.kind == Token::Kind::kNumber) {
      out_.sql += "?";
      out_.binds.emplace_back(t.number);
    } else if (t.kind == Token::Kind::kString) {
      out_.sql += "?";
      out_.binds.emplace_back(t.text);
    } else {
      out_.sql += IsKeyword(t, "true") ? "1" : "0";
    }
  }

  // How a field compared with `other` (a value, or another field) should read.
  static Want WantFor(const Token& other) {
    if (other.kind == Token::Kind::kString) return Want::kText;
    if (other.kind == Token::Kind::kNumber || IsKeyword(other, "true") || IsKeyword(other, "false")) {
      return Want::kNumber;
    }
    return Want::kAny;
  }

  void Field(const Token& t, Want want = Want::kAny) {
    if (t.kind != Token::Kind::kWord || IsKeyword(t, "and") || IsKeyword(t, "or") || IsKeyword(t, "not")) {
      throw QueryError("expected a field, a value or '(', found " +
                           (t.kind == Token::Kind::kEnd ? std::string("the end") : "'" + Excerpt(t.text) + "'"),
                       t.column);
    }
    if (!FieldSql(t.text, out_, dialect_, want))
      throw QueryError("unknown field '" + Excerpt(t.text) + "'; " + kFieldHelp, t.column);
  }

  void Comparison() {
    if (++comparisons_ > kMaxComparisons) {
      throw QueryError("the expression has more than " + std::to_string(kMaxComparisons) + " comparisons",
                       Peek().column);
    }
    out_.sql += "coalesce(";
    const Token& left = Next();
    const bool like = IsKeyword(Peek(), "like");
    // The value across the operator (looked at, not taken) decides how a field reads.
    const Token& across = tokens_[std::min(pos_ + 1, tokens_.size() - 1)];
    if (IsValue(left)) {
      Value(left);
    } else {
      Field(left, like ? Want::kText : WantFor(across));
    }
    const Token& op = Next();
    std::string sql_op;
    if (op.kind == Token::Kind::kOp) {
      sql_op = op.text == "==" ? "=" : op.text == "<>" ? "!=" : op.text;
    } else if (like) {
      sql_op = dialect_ == Dialect::kPostgres ? "ILIKE" : "LIKE";  // SQLite's LIKE ignores ASCII case
    } else {
      throw QueryError("expected a comparison (= != < <= > >= like) after '" + Excerpt(left.text) + "'", op.column);
    }
    out_.sql += " " + sql_op + " ";
    const Token& right = Next();
    SqlFragment probe;
    if (IsValue(right)) {
      if (IsValue(left)) throw QueryError("a comparison needs a field on one side", left.column);
      Value(right);
    } else if (right.kind == Token::Kind::kWord && FieldSql(right.text, probe)) {
      Field(right, WantFor(left));
    } else if (right.kind == Token::Kind::kWord && !IsKeyword(right, "and") && !IsKeyword(right, "or") &&
               !IsKeyword(right, "not")) {
      throw QueryError("'" + Excerpt(right.text) + "' is not a field; quote text: \"" + Excerpt(right.text) + "\"",
                       right.column);
    } else {
      throw QueryError("expected a value (a number or a quoted string) after '" + Excerpt(op.text) + "'", right.column);
    }
    out_.sql += ", FALSE)";
    sql_depth_ = 1;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;      // 'not' and '(' open around the current token
  int sql_depth_ = 0;  // how deeply the SQL just compiled nests
  int comparisons_ = 0;
  SqlFragment out_;
  Dialect dialect_;
};

}  // namespace

std::string QueryError::Render(const std::string& text) const {
  // Quote at most kWindow characters either side of the mistake, and put the caret under
  // it counting characters, not bytes.
  constexpr size_t kWindow = 60;
  std::vector<size_t> starts;  // byte offset of each character
  for (size_t i = 0; i < text.size(); i += std::max<size_t>(1, Utf8CharLength(text, i))) starts.push_back(i);
  const size_t at = static_cast<size_t>(std::lower_bound(starts.begin(), starts.end(), column_) - starts.begin());
  const size_t first = at > kWindow ? at - kWindow : 0;
  const size_t last = std::min(starts.size(), at + kWindow);
  const size_t begin = first < starts.size() ? starts[first] : text.size();
  const size_t end = last < starts.size() ? starts[last] : text.size();
  const std::string before = first > 0 ? "..." : "";
  std::string quoted = before;
  for (size_t i = begin; i < end;) {
    const size_t length = std::max<size_t>(1, Utf8CharLength(text, i));
    const unsigned char c = static_cast<unsigned char>(text[i]);
    quoted += length > 1 || (c >= 0x20 && c != 0x7f) ? text.substr(i, length) : std::string("?");
    i += length;
  }
  if (end < text.size()) quoted += "...";
  return std::string(what()) + "\n  " + quoted + "\n  " + std::string(before.size() + (at - first), ' ') + "^";
}

SqlFragment CompileWhere(const std::string& expression, Dialect dialect) { return Parser(expression, dialect).Parse(); }

SqlFragment FieldExpression(const std::string& field, Dialect dialect) {
  SqlFragment out;
  if (FieldSql(field, out, dialect)) return out;      // a name as it is (a key with any characters)
  const std::vector<Token> tokens = Tokenize(field);  // or as a filter reads it: min( metrics.K )
  if (tokens[0].kind != Token::Kind::kWord || !FieldSql(tokens[0].text, out, dialect)) {
    throw QueryError("unknown field '" + Excerpt(field) + "'; " + kFieldHelp, 0);
  }
  if (tokens[1].kind != Token::Kind::kEnd) {
    throw QueryError("expected one field, found '" + Excerpt(tokens[1].text) + "' after it", tokens[1].column);
  }
  return out;
}

SqlFragment CompileOrderBy(const std::string& key, Dialect dialect) {
  std::vector<Token> tokens = Tokenize(key);
  if (tokens[0].kind != Token::Kind::kWord) throw QueryError("expected a field to order by", tokens[0].column);
  SqlFragment field;
  if (!FieldSql(tokens[0].text, field, dialect)) {
    throw QueryError("unknown field '" + Excerpt(tokens[0].text) + "'; " + kFieldHelp, tokens[0].column);
  }
  bool descending = false;
  size_t next = 1;
  if (IsKeyword(tokens[1], "desc") || IsKeyword(tokens[1], "asc")) {
    descending = IsKeyword(tokens[1], "desc");
    next = 2;
  }
  if (tokens[next].kind != Token::Kind::kEnd) {
    throw QueryError("expected 'asc', 'desc' or the end, found '" + Excerpt(tokens[next].text) + "'",
                     tokens[next].column);
  }
  // Runs without the value go last either way.
  SqlFragment out;
  const char* direction = descending ? " DESC" : " ASC";
  if (dialect == Dialect::kPostgres && tokens[0].text.rfind("params.", 0) == 0) {
    // A JSON parameter: numbers in numeric order, then the rest as text.
    SqlFragment number, text;
    FieldSql(tokens[0].text, number, dialect, Want::kNumber);
    FieldSql(tokens[0].text, text, dialect, Want::kText);
    out.sql = "(" + text.sql + ") IS NULL, (" + number.sql + ") IS NULL, (" + number.sql + ")" + direction + ", (" +
              text.sql + ")" + direction;
    for (const SqlFragment* f : {&text, &number, &number, &text}) {
      out.binds.insert(out.binds.end(), f->binds.begin(), f->binds.end());
    }
    return out;
  }
  out.sql = "(" + field.sql + ") IS NULL, (" + field.sql + ")" + direction;
  out.binds = field.binds;
  out.binds.insert(out.binds.end(), field.binds.begin(), field.binds.end());
  return out;
}

}  // namespace sluice::store
