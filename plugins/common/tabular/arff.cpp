// Weka's ARFF: @relation, @attribute (numeric, integer, real, {nominal}, string, date
// [format]), @data with dense or sparse ({index value, ...}) rows, quoted values with
// backslash escapes, '?' for missing, '%' comments.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>

#include "sluice/excerpt.hpp"
#include "table.hpp"

namespace sluice::tabular {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void SkipSpace(const std::string& s, size_t& i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
}

// One value: quoted ('...' or "..." with backslash escapes) or bare up to a separator.
// `quoted` says which, so that a quoted '?' is a value and a bare ? is missing.
bool ReadToken(const std::string& s, size_t& i, const char* separators, std::string& out, bool& quoted) {
  SkipSpace(s, i);
  out.clear();
  quoted = false;
  if (i < s.size() && (s[i] == '\'' || s[i] == '"')) {
    const char q = s[i++];
    quoted = true;
    while (i < s.size() && s[i] != q) {
      if (s[i] == '\\' && i + 1 < s.size()) {
        const char e = s[++i];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        ++i;
        continue;
      }
      out += s[i++];
    }
    if (i >= s.size()) return false;  // unterminated
    ++i;
    return true;
  }
  while (i < s.size() && !std::strchr(separators, s[i])) out += s[i++];
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return true;
}

std::string ValueList(const Column& c) {
  std::string text = "{";
  for (size_t i = 0; i < c.values.size() && i < 8; ++i) text += (i ? ", " : "") + Excerpt(c.values[i], 30);
  return text + (c.values.size() > 8 ? ", ...}" : "}");
}

// Fills `cell` from `text` for column `c`; "" on success, else what is wrong.
std::string Convert(const Column& c, const std::string& text, bool quoted, Cell& cell) {
  cell.text = text;
  cell.missing = !quoted && text == "?";
  if (cell.missing) return "";
  switch (c.type) {
    case ColumnType::kNumeric:
      if (!ParseNumber(text, cell.number))
        return "attribute '" + Excerpt(c.name) + "': '" + Excerpt(text) + "' is not a finite number";
      return "";
    case ColumnType::kNominal:
      if (std::find(c.values.begin(), c.values.end(), text) == c.values.end()) {
        return "attribute '" + Excerpt(c.name) + "': '" + Excerpt(text) + "' is not one of its declared values " +
               ValueList(c);
      }
      return "";
    case ColumnType::kString:
      return "";
    case ColumnType::kDate:
      if (!ParseDate(text, c.date_format, cell.number)) {
        return "attribute '" + Excerpt(c.name) + "': '" + Excerpt(text) + "' does not match the date format \"" +
               Excerpt(c.date_format) + "\"";
      }
      return "";
  }
  return "";
}

}  // namespace

Status ReadArff(const std::string& path, const ReadOptions& options, Table& out) {
  std::string text;
  SLUICE_RETURN_IF_ERROR(ReadText(path, options.encoding, text));
  std::istringstream in(std::move(text));
  out = Table();
  out.source = path;
  std::string line;
  int64_t number = 0;
  bool data = false;
  std::set<std::string> declared;  // attribute names
  auto fail = [&](const std::string& what) {
    return Status::InvalidArgument(path + ":" + std::to_string(number) + ": " + what);
  };
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t i = 0;
    SkipSpace(line, i);
    if (i == line.size() || line[i] == '%') continue;
    if (!data) {
      if (line[i] != '@')
        return fail("expected @relation, @attribute or @data, found '" + Excerpt(std::string_view(line).substr(i), 40) +
                    "'");
      size_t end = i;
      while (end < line.size() && !std::isspace(static_cast<unsigned char>(line[end]))) ++end;
      const std::string keyword = Lower(line.substr(i, end - i));
      i = end;
      if (keyword == "@relation") continue;
      if (keyword == "@data") {
        if (out.columns.empty()) return fail("@data before any @attribute");
        data = true;
        continue;
      }
      if (keyword != "@attribute") return fail("unknown declaration '" + Excerpt(keyword) + "'");
      Column col;
      bool quoted;
      if (!ReadToken(line, i, " \t{", col.name, quoted) || col.name.empty()) return fail("an attribute needs a name");
      if (!declared.insert(col.name).second) return fail("attribute '" + Excerpt(col.name) + "' is declared twice");
      SkipSpace(line, i);
      if (i < line.size() && line[i] == '{') {
        col.type = ColumnType::kNominal;
        ++i;
        for (;;) {
          std::string value;
          if (!ReadToken(line, i, ",}", value, quoted))
            return fail("unterminated quote in the values of '" + Excerpt(col.name) + "'");
          if (!value.empty() || quoted) col.values.push_back(value);
          SkipSpace(line, i);
          if (i < line.size() && line[i] == ',') {
            ++i;
            continue;
          }
          if (i < line.size() && line[i] == '}') break;
          return fail("the values of attribute '" + Excerpt(col.name) + "' are not closed with '}'");
        }
      } else {
        std::string type;
        ReadToken(line, i, " \t", type, quoted);
        type = Lower(type);
        if (type == "numeric" || type == "real" || type == "integer") {
          col.type = ColumnType::kNumeric;
        } else if (type == "string") {
          col.type = ColumnType::kString;
        } else if (type == "date") {
          col.type = ColumnType::kDate;
          ReadToken(line, i, "", col.date_format, quoted);
          if (col.date_format.empty()) col.date_format = "yyyy-MM-dd'T'HH:mm:ss";
        } else {
          return fail("attribute '" + Excerpt(col.name) + "' has type '" + Excerpt(type) +
                      "', which is not supported (numeric, integer, real, {nominal}, string, date)");
        }
      }
      out.columns.push_back(std::move(col));
      continue;
    }

    // A data row.
    const size_t width = out.columns.size();
    std::vector<Cell> row(width);
    std::string problem;
    if (line[i] == '{') {
      // Sparse: omitted values are 0 (the first declared value of a nominal attribute).
      for (size_t c = 0; c < width; ++c) {
        const Column& col = out.columns[c];
        problem = Convert(col, col.type == ColumnType::kNominal ? col.values.front() : "0", true, row[c]);
        if (col.type == ColumnType::kString) row[c] = Cell{false, 0, ""};
      }
      problem.clear();
      ++i;
      for (;;) {
        SkipSpace(line, i);
        if (i < line.size() && line[i] == '}') break;
        size_t end = i;
        while (end < line.size() && std::isdigit(static_cast<unsigned char>(line[end]))) ++end;
        if (end == i) {
          problem = "a sparse row holds 'index value' pairs";
          break;
        }
        const size_t index = std::stoul(line.substr(i, end - i));
        i = end;
        if (index >= width) {
          problem = "sparse index " + std::to_string(index) + " is past the " + std::to_string(width) + " attributes";
          break;
        }
        std::string value;
        bool quoted;
        if (!ReadToken(line, i, ",}", value, quoted)) {
          problem = "unterminated quote";
          break;
        }
        problem = Convert(out.columns[index], value, quoted, row[index]);
        if (!problem.empty()) break;
        SkipSpace(line, i);
        if (i < line.size() && line[i] == ',') ++i;
      }
    } else {
      size_t count = 0;
      for (;;) {
        std::string value;
        bool quoted;
        if (!ReadToken(line, i, ",", value, quoted)) {
          problem = "unterminated quote";
          break;
        }
        if (count < width && problem.empty()) problem = Convert(out.columns[count], value, quoted, row[count]);
        ++count;
        SkipSpace(line, i);
        if (i < line.size() && line[i] == ',') {
          ++i;
          continue;
        }
        if (i < line.size() && line[i] != '%') {
          problem = "unexpected text after a value: '" + Excerpt(std::string_view(line).substr(i), 20) + "'";
        }
        break;
      }
      if (problem.empty() && count != width) {
        problem = "the row has " + std::to_string(count) + " values, the header declares " + std::to_string(width) +
                  " attributes";
      }
    }
    if (!problem.empty()) {
      const std::string message = path + ":" + std::to_string(number) + ": " + problem;
      if (!options.skip_bad_rows) return Status::InvalidArgument(message);
      out.skipped.push_back(message);
      continue;
    }
    out.rows.push_back(std::move(row));
    out.lines.push_back(number);
  }
  if (!data) return Status::InvalidArgument(path + ": no @data section");
  return Status::Ok();
}

}  // namespace sluice::tabular
