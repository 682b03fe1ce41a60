#include "text_files.hpp"

#include <algorithm>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sluice/excerpt.hpp"

namespace sluice::text {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The index of `name` among `columns`: exact, then ignoring case.
std::optional<size_t> FindColumn(const std::vector<std::string>& columns, const std::string& name) {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return i;
  }
  for (size_t i = 0; i < columns.size(); ++i) {
    if (Lower(columns[i]) == Lower(name)) return i;
  }
  return std::nullopt;
}

Status NoColumn(const std::string& path, const std::string& what, const std::string& name,
                const std::vector<std::string>& columns) {
  std::string names;
  for (const std::string& c : columns) names += (names.empty() ? "" : ", ") + c;
  return Status::InvalidArgument(path + ": no " + what + " column '" + Excerpt(name) +
                                 "' (columns: " + Excerpt(names, 300) + ")");
}

Status FromJsonLines(const std::string& path, const std::string& text_column, const std::string& label_column,
                     tabular::Encoding encoding, Texts& out) {
  std::string content;
  SLUICE_RETURN_IF_ERROR(tabular::ReadText(path, encoding, content));
  std::string label_key = label_column;
  return tabular::ForEachJsonObject(path, content, [&](int64_t number, const nlohmann::json& row) {
    std::vector<std::string> keys;
    for (const auto& item : row.items()) keys.push_back(item.key());
    const auto text = FindColumn(keys, text_column);
    if (!text) return NoColumn(path + ":" + std::to_string(number), "text", text_column, keys);
    if (label_key == "auto") {
      for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
        if (*it != keys[*text]) {
          label_key = *it;
          break;
        }
      }
    }
    const nlohmann::json& t = row[keys[*text]];
    if (!t.is_string()) {
      return Status::InvalidArgument(path + ":" + std::to_string(number) + ": '" + keys[*text] + "' is not a string");
    }
    out.text_column = keys[*text];
    out.texts.push_back(t.get<std::string>());
    out.lines.push_back(number);
    if (!label_key.empty()) {
      const auto label = FindColumn(keys, label_key);
      if (!label || row[keys[*label]].is_null()) {
        return Status::InvalidArgument(path + ":" + std::to_string(number) + ": the label '" + Excerpt(label_key) +
                                       "' is missing");
      }
      const nlohmann::json& l = row[keys[*label]];
      out.label_column = keys[*label];
      out.labels.push_back(l.is_string() ? l.get<std::string>() : l.dump());
    }
    return Status::Ok();
  });
}

}  // namespace

Status ReadTexts(const std::string& path, const std::string& text_column, const std::string& label_column,
                 tabular::Encoding encoding, Texts& out) {
  out = Texts();
  const std::string lower = Lower(path);
  if (EndsWith(lower, ".txt")) {
    // A corpus: one document per non-blank line, no labels.
    if (!label_column.empty()) {
      return Status::InvalidArgument(path +
                                     ": a .txt file holds one text per line and no labels (label_column = \"none\")");
    }
    std::string content;
    SLUICE_RETURN_IF_ERROR(tabular::ReadText(path, encoding, content));
    std::istringstream in(content);
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      out.texts.push_back(line);
      out.lines.push_back(number);
    }
    out.text_column = "line";
  } else if (EndsWith(lower, ".jsonl") || EndsWith(lower, ".json") || EndsWith(lower, ".ndjson")) {
    SLUICE_RETURN_IF_ERROR(FromJsonLines(path, text_column, label_column, encoding, out));
  } else {
    tabular::ReadOptions options;
    options.encoding = encoding;
    options.na_values = {};
    if (EndsWith(lower, ".tsv")) options.delimiter = '\t';
    tabular::Table table;
    if (EndsWith(lower, ".arff")) {
      SLUICE_RETURN_IF_ERROR(tabular::ReadArff(path, options, table));
    } else {
      // Every column is read as text: a label of digits stays the label as written.
      SLUICE_RETURN_IF_ERROR(tabular::ReadCsv(path, options, table));
    }
    std::vector<std::string> names;
    for (const tabular::Column& c : table.columns) names.push_back(c.name);
    const auto text = FindColumn(names, text_column);
    if (!text) return NoColumn(path, "text", text_column, names);
    std::optional<size_t> label;
    if (label_column == "auto") {
      for (size_t i = names.size(); i-- > 0;) {
        if (i != *text) {
          label = i;
          break;
        }
      }
      if (!label)
        return Status::InvalidArgument(path + ": no label column besides the text column '" + names[*text] + "'");
    } else if (!label_column.empty()) {
      label = FindColumn(names, label_column);
      if (!label) return NoColumn(path, "label", label_column, names);
    }
    out.text_column = names[*text];
    if (label) {
      out.label_column = names[*label];
      if (table.columns[*label].type == tabular::ColumnType::kNominal && EndsWith(lower, ".arff")) {
        out.label_values = table.columns[*label].values;
      }
    }
    for (size_t r = 0; r < table.rows.size(); ++r) {
      const auto& row = table.rows[r];
      out.texts.push_back(row[*text].missing ? std::string() : row[*text].text);
      out.lines.push_back(table.lines[r]);
      if (label) {
        if (row[*label].missing) {
          return Status::InvalidArgument(path + ":" + std::to_string(table.lines[r]) + ": the label '" +
                                         out.label_column + "' is missing");
        }
        out.labels.push_back(row[*label].text);
      }
    }
  }
  if (out.texts.empty()) return Status::InvalidArgument(path + ": no rows");
  return Status::Ok();
}

}  // namespace sluice::text
