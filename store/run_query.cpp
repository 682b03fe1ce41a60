#include "run_query.hpp"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace sluice::store {

namespace {

struct Token {
  enum class Kind { kWord, kNumber, kString, kOp, kLParen, kRParen, kEnd };
  Kind kind = Kind::kEnd;
  std::string text;  // words and operators as written; strings unquoted
  double number = 0;
  size_t column = 0;
};

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
    } else {
      throw QueryError(std::string("unexpected character '") + c + "'", i);
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.column = s.size();
  out.push_back(end);
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsKeyword(const Token& t, const char* word) { return t.kind == Token::Kind::kWord && Lower(t.text) == word; }

// A field as SQL over `runs`; its own bound values go to `binds`.
bool FieldSql(const std::string& name, SqlFragment& out) {
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
      out.sql += sql;
      return true;
    }
  }
  auto keyed = [&](const std::string& prefix, const std::string& sql) {
    if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) return false;
    out.sql += sql;
    out.binds.emplace_back(name.substr(prefix.size()));
    return true;
  };
  return keyed("params.", "(SELECT json_extract(value, '$') FROM params WHERE run_id = runs.id AND key = ?)") ||
         keyed("metrics.", "(SELECT last_value FROM metric_series WHERE run_id = runs.id AND key = ?)") ||
         keyed("tags.", "(SELECT value FROM tags WHERE run_id = runs.id AND key = ?)");
}

const char* kFieldHelp =
    "fields are status, pipeline, id, host, error, started_at, ended_at, duration, study, trial, "
    "params.STAGE.KEY, metrics.STAGE.KEY and tags.KEY";

class Parser {
 public:
  explicit Parser(const std::string& text) : tokens_(Tokenize(text)) {}

  SqlFragment Parse() {
    if (Peek().kind == Token::Kind::kEnd) throw QueryError("empty expression", 0);
    Or();
    if (Peek().kind != Token::Kind::kEnd) {
      throw QueryError("expected 'and', 'or' or the end of the expression, found '" + Peek().text + "'", Peek().column);
    }
    return std::move(out_);
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Next() { return pos_ + 1 < tokens_.size() ? tokens_[pos_++] : tokens_.back(); }

  // OPERAND (WORD OPERAND)*, parenthesized: OR over ANDs, AND over NOTs.
  void Chain(const char* word, const char* sql_op, void (Parser::*operand)()) {
    out_.sql += "(";
    (this->*operand)();
    while (IsKeyword(Peek(), word)) {
      Next();
      out_.sql += sql_op;
      (this->*operand)();
    }
    out_.sql += ")";
  }
  void Or() { Chain("or", " OR ", &Parser::And); }
  void And() { Chain("and", " AND ", &Parser::Not); }

  void Not() {
    if (IsKeyword(Peek(), "not")) {
      Next();
      out_.sql += "NOT ";
      Not();
      return;
    }
    if (Peek().kind == Token::Kind::kLParen) {
      const Token& open = Next();
      Or();
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

  void Field(const Token& t) {
    if (t.kind != Token::Kind::kWord || IsKeyword(t, "and") || IsKeyword(t, "or") || IsKeyword(t, "not")) {
      throw QueryError("expected a field, a value or '(', found " +
                           (t.kind == Token::Kind::kEnd ? std::string("the end") : "'" + t.text + "'"),
                       t.column);
    }
    if (!FieldSql(t.text, out_)) throw QueryError("unknown field '" + t.text + "'; " + kFieldHelp, t.column);
  }

  void Comparison() {
    out_.sql += "coalesce(";
    const Token& left = Next();
    if (IsValue(left)) {
      Value(left);
    } else {
      Field(left);
    }
    const Token& op = Next();
    std::string sql_op;
    if (op.kind == Token::Kind::kOp) {
      sql_op = op.text == "==" ? "=" : op.text == "<>" ? "!=" : op.text;
    } else if (IsKeyword(op, "like")) {
      sql_op = "LIKE";
    } else {
      throw QueryError("expected a comparison (= != < <= > >= like) after '" + left.text + "'", op.column);
    }
    out_.sql += " " + sql_op + " ";
    const Token& right = Next();
    SqlFragment probe;
    if (IsValue(right)) {
      if (IsValue(left)) throw QueryError("a comparison needs a field on one side", left.column);
      Value(right);
    } else if (right.kind == Token::Kind::kWord && FieldSql(right.text, probe)) {
      Field(right);
    } else if (right.kind == Token::Kind::kWord && !IsKeyword(right, "and") && !IsKeyword(right, "or") &&
               !IsKeyword(right, "not")) {
      throw QueryError("'" + right.text + "' is not a field; quote text: \"" + right.text + "\"", right.column);
    } else {
      throw QueryError("expected a value (a number or a quoted string) after '" + op.text + "'", right.column);
    }
    out_.sql += ", 0)";
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  SqlFragment out_;
};

}  // namespace

std::string QueryError::Render(const std::string& text) const {
  return std::string(what()) + "\n  " + text + "\n  " + std::string(column_, ' ') + "^";
}

SqlFragment CompileWhere(const std::string& expression) { return Parser(expression).Parse(); }

SqlFragment FieldExpression(const std::string& field) {
  SqlFragment out;
  if (!FieldSql(field, out)) throw QueryError("unknown field '" + field + "'; " + kFieldHelp, 0);
  return out;
}

SqlFragment CompileOrderBy(const std::string& key) {
  std::vector<Token> tokens = Tokenize(key);
  if (tokens[0].kind != Token::Kind::kWord) throw QueryError("expected a field to order by", tokens[0].column);
  SqlFragment field;
  if (!FieldSql(tokens[0].text, field)) {
    throw QueryError("unknown field '" + tokens[0].text + "'; " + kFieldHelp, tokens[0].column);
  }
  bool descending = false;
  size_t next = 1;
  if (IsKeyword(tokens[1], "desc") || IsKeyword(tokens[1], "asc")) {
    descending = IsKeyword(tokens[1], "desc");
    next = 2;
  }
  if (tokens[next].kind != Token::Kind::kEnd) {
    throw QueryError("expected 'asc', 'desc' or the end, found '" + tokens[next].text + "'", tokens[next].column);
  }
  // Runs without the value go last either way.
  SqlFragment out;
  out.sql = "(" + field.sql + ") IS NULL, (" + field.sql + ")" + (descending ? " DESC" : " ASC");
  out.binds = field.binds;
  out.binds.insert(out.binds.end(), field.binds.begin(), field.binds.end());
  return out;
}

}  // namespace sluice::store
