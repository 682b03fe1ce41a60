// CSV (RFC 4180: quoted fields, "" inside quotes, line breaks inside quotes) and JSON Lines
// (one object per line), into the same Table.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sluice/excerpt.hpp"
#include "table.hpp"

namespace sluice::tabular {
namespace {

struct Record {
  std::vector<std::string> fields;
  std::vector<bool> absent;  // JSON Lines: null, or no such key in the object (missing)
  int64_t line = 0;
  bool blank = false;  // an empty line
};

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

// Splits the whole text into records. Fails only on an unterminated quote.
Status Split(const std::string& path, const std::string& text, char delimiter, std::vector<Record>& records) {
  size_t i = 0;
  int64_t line = 1;
  while (i < text.size()) {
    Record r;
    r.line = line;
    std::string field;
    bool quoted_field = false, any = false;
    for (;;) {
      if (i >= text.size()) break;
      const char c = text[i];
      if (c == '"' && Trim(field).empty() && !quoted_field) {
        // A quoted field: up to the closing quote; "" is a quote.
        quoted_field = true;
        field.clear();
        const int64_t opened = line;
        ++i;
        for (;;) {
          if (i >= text.size()) {
            return Status::InvalidArgument(path + ":" + std::to_string(opened) +
                                           ": a quoted field opened on this line is never closed");
          }
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          field += text[i++];
        }
        any = true;
        continue;
      }
      if (c == delimiter) {
        r.fields.push_back(quoted_field ? field : Trim(field));
        field.clear();
        quoted_field = false;
        any = true;
        ++i;
        continue;
      }
      if (c == '\n' || c == '\r') {
        if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
        ++i;
        ++line;
        break;
      }
      field += c;
      if (c != ' ' && c != '\t') any = true;
      ++i;
    }
    r.fields.push_back(quoted_field ? field : Trim(field));
    r.blank = !any && r.fields.size() == 1 && r.fields[0].empty();
    records.push_back(std::move(r));
  }
  return Status::Ok();
}

// JSON Lines into records: the first names the columns (every key, in the order first
// seen), the others hold each row's values in that order. Strings are read as written,
// numbers and booleans as JSON writes them; null and an absent key are missing.
Status SplitJsonLines(const std::string& path, const std::string& text, std::vector<Record>& records) {
  records.assign(1, Record());
  std::vector<std::string> keys;
  std::map<std::string, size_t, std::less<>> index;
  SLUICE_RETURN_IF_ERROR(ForEachJsonObject(path, text, [&](int64_t number, const nlohmann::json& row) {
    Record r;
    r.line = number;
    for (const auto& [key, value] : row.items()) {
      auto [at, added] = index.emplace(key, keys.size());
      if (added) keys.push_back(key);
      if (r.fields.size() <= at->second) {
        r.fields.resize(at->second + 1);
        r.absent.resize(at->second + 1, true);
      }
      if (value.is_structured()) {
        return Status::InvalidArgument(path + ":" + std::to_string(number) + ": '" + Excerpt(key) + "' holds " +
                                       (value.is_array() ? "an array" : "an object") + ", not one value");
      }
      r.absent[at->second] = value.is_null();
      r.fields[at->second] = value.is_string() ? value.get<std::string>() : value.is_null() ? "" : value.dump();
    }
    records.push_back(std::move(r));
    return Status::Ok();
  }));
  if (records.size() == 1) records.clear();
  for (size_t i = 1; i < records.size(); ++i) {  // rows without the keys later rows brought
    records[i].fields.resize(keys.size());
    records[i].absent.resize(keys.size(), true);
  }
  if (!records.empty()) records[0].fields = std::move(keys);
  return Status::Ok();
}

// Records (the first the header, where options say so) into a table, typed as the options
// say or as the values suggest.
Status FromRecords(const std::string& path, std::vector<Record>& records, const ReadOptions& options, Table& out) {
  records.erase(std::remove_if(records.begin(), records.end(), [](const Record& r) { return r.blank; }), records.end());
  if (records.empty()) return Status::InvalidArgument(path + ": the file holds no rows");

  out = Table();
  out.source = path;
  size_t first = 0;
  const size_t width = records[0].fields.size();
  std::set<std::string> names;
  for (size_t c = 0; c < width; ++c) {
    Column col;
    col.name = options.header ? records[0].fields[c] : "column_" + std::to_string(c + 1);
    if (col.name.empty()) col.name = "column_" + std::to_string(c + 1);
    if (!names.insert(col.name).second) {
      return Status::InvalidArgument(path + ":" + std::to_string(records[0].line) + ": column '" + Excerpt(col.name) +
                                     "' appears twice in the header");
    }
    out.columns.push_back(std::move(col));
  }
  if (options.header) first = 1;

  std::set<std::string> na(options.na_values.begin(), options.na_values.end());
  std::vector<std::vector<std::string>> raw;
  std::vector<std::vector<bool>> absent;
  for (size_t r = first; r < records.size(); ++r) {
    Record& rec = records[r];
    if (rec.fields.size() != width) {
      const std::string message = path + ":" + std::to_string(rec.line) + ": expected " + std::to_string(width) +
                                  " fields, found " + std::to_string(rec.fields.size());
      if (!options.skip_bad_rows) return Status::InvalidArgument(message);
      out.skipped.push_back(message);
      continue;
    }
    raw.push_back(std::move(rec.fields));
    absent.push_back(std::move(rec.absent));
    out.lines.push_back(rec.line);
  }
  const auto missing = [&](size_t r, size_t c) { return (!absent[r].empty() && absent[r][c]) || na.count(raw[r][c]); };

  // Types: as known (a model's schema) or asked for (categorical), else inferred.
  std::map<std::string, ColumnType, std::less<>> known_types;
  for (const Column& k : options.known_columns) known_types.emplace(k.name, k.type);
  const std::set<std::string, std::less<>> categorical(options.categorical.begin(), options.categorical.end());
  std::vector<bool> numeric(width, true);
  for (size_t c = 0; c < width; ++c) {
    Column& column = out.columns[c];
    if (auto known = known_types.find(column.name); known != known_types.end()) {
      column.type = known->second == ColumnType::kNumeric ? ColumnType::kNumeric : ColumnType::kNominal;
      numeric[c] = column.type == ColumnType::kNumeric;
      continue;
    }
    const bool asked = categorical.count(column.name) > 0;
    // Predicting: the model's columns are known; any other (the target, extra columns) is
    // read as text and left alone.
    if (asked || !options.known_columns.empty()) {
      column.type = ColumnType::kNominal;
      numeric[c] = false;
      continue;
    }
    // Numbers and text in one column: mostly numbers means a few bad cells (a typo, an
    // 'inf', a stray word), which would otherwise turn the column into dozens of
    // one-hot features without a word; mostly text means a categorical column.
    size_t numbers = 0, texts = 0, first_text = 0;
    double ignored;
    for (size_t r = 0; r < raw.size(); ++r) {
      if (missing(r, c)) continue;
      if (ParseNumber(raw[r][c], ignored)) {
        ++numbers;
      } else if (texts++ == 0) {
        first_text = r;
      }
    }
    numeric[c] = texts == 0 || (numbers > texts && options.skip_bad_rows);
    if (texts > 0 && numbers > texts && !options.skip_bad_rows) {
      return Status::InvalidArgument(path + ":" + std::to_string(out.lines[first_text]) + ": column '" +
                                     Excerpt(column.name) + "': '" + Excerpt(raw[first_text][c]) +
                                     "' is not a finite number, but " + std::to_string(numbers) + " of its " +
                                     std::to_string(numbers + texts) +
                                     " values are; fix the cell, add its text to na_values, set skip_bad_rows = "
                                     "true, or list the column in categorical_columns");
    }
    if (texts > 0 && numbers > 0 && !numeric[c]) {
      out.notes.push_back("column '" + Excerpt(column.name) + "' holds " + std::to_string(numbers) + " numbers and " +
                          std::to_string(texts) + " other values (the first at line " +
                          std::to_string(out.lines[first_text]) + ": '" + Excerpt(raw[first_text][c]) +
                          "'): read as categorical");
    }
    column.type = numeric[c] ? ColumnType::kNumeric : ColumnType::kNominal;
  }

  std::vector<std::set<std::string>> seen(width);
  for (size_t r = 0; r < raw.size(); ++r) {
    std::vector<Cell> row(width);
    std::string problem;
    for (size_t c = 0; c < width && problem.empty(); ++c) {
      Cell& cell = row[c];
      cell.missing = missing(r, c);
      cell.text = raw[r][c];
      if (cell.missing) continue;
      if (numeric[c]) {
        if (!ParseNumber(cell.text, cell.number)) {
          problem = path + ":" + std::to_string(out.lines[r]) + ": column '" + Excerpt(out.columns[c].name) + "': '" +
                    Excerpt(cell.text) + "' is not a finite number";
        }
      } else {
        seen[c].insert(cell.text);
      }
    }
    if (!problem.empty()) {
      if (!options.skip_bad_rows) return Status::InvalidArgument(problem);
      out.skipped.push_back(problem);
      out.lines[r] = -1;
      continue;
    }
    out.rows.push_back(std::move(row));
  }
  out.lines.erase(std::remove(out.lines.begin(), out.lines.end(), -1), out.lines.end());
  for (size_t c = 0; c < width; ++c) {
    if (!numeric[c]) out.columns[c].values.assign(seen[c].begin(), seen[c].end());
  }
  return Status::Ok();
}

}  // namespace

Status ForEachJsonObject(const std::string& source, const std::string& text,
                         const std::function<Status(int64_t line, const nlohmann::json& object)>& each) {
  std::istringstream in(text);
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = source + ":" + std::to_string(number);
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      return Status::InvalidArgument(where + ": not a JSON object: " + MessageExcerpt(e));
    }
    if (!object.is_object()) return Status::InvalidArgument(where + ": not a JSON object");
    SLUICE_RETURN_IF_ERROR(each(number, object));
  }
  return Status::Ok();
}

Status ReadCsv(const std::string& path, const ReadOptions& options, Table& out) {
  std::string text;
  SLUICE_RETURN_IF_ERROR(ReadText(path, options.encoding, text));
  return ParseCsv(path, text, options, out);
}

Status ParseCsv(const std::string& path, const std::string& text, const ReadOptions& options, Table& out) {
  std::vector<Record> records;
  SLUICE_RETURN_IF_ERROR(Split(path, text, options.delimiter, records));
  return FromRecords(path, records, options, out);
}

Status ReadJsonLines(const std::string& path, const ReadOptions& options, Table& out) {
  std::string text;
  SLUICE_RETURN_IF_ERROR(ReadText(path, options.encoding, text));
  std::vector<Record> records;
  SLUICE_RETURN_IF_ERROR(SplitJsonLines(path, text, records));
  ReadOptions json_options = options;
  json_options.header = true;
  return FromRecords(path, records, json_options, out);
}

}  // namespace sluice::tabular
