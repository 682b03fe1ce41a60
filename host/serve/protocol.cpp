#include "serve/protocol.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>

#include <nlohmann/json.hpp>

#include "sluice/excerpt.hpp"
#include "table.hpp"

namespace sluice::serve {

using json = nlohmann::json;

namespace {

std::string Where(size_t row, const std::string& column) {
  return "row " + std::to_string(row + 1) + ", column '" + Excerpt(column) + "'";
}

std::string InputList(const ServedModelInfo& info) {
  std::string list;
  for (size_t i = 0; i < info.inputs.size() && i < 30; ++i) list += (i ? ", " : "") + info.inputs[i].name;
  if (info.inputs.size() > 30) list += ", ... (" + std::to_string(info.inputs.size()) + " in all)";
  return list;
}

bool IsTensor(const ServedInput& input) { return !input.shape.empty(); }

int64_t Elements(const ServedInput& input) {
  int64_t n = 1;
  for (int64_t d : input.shape) n *= d;
  return n;
}

void Flatten(const json& value, std::vector<double>& out, bool& ok) {
  if (value.is_array()) {
    for (const json& v : value) Flatten(v, out, ok);
  } else if (value.is_number()) {
    out.push_back(value.get<double>());
  } else {
    ok = false;
  }
}

// One JSON value for one input of one row.
Status ToValue(const json& value, const ServedInput& input, size_t row, InferenceValue& out) {
  if (IsTensor(input)) {
    bool ok = true;
    out.kind = InferenceValue::Kind::kNumbers;
    out.numbers.clear();
    out.numbers.reserve(static_cast<size_t>(Elements(input)));
    if (value.is_array()) Flatten(value, out.numbers, ok);
    if (!value.is_array() || !ok) {
      return Status::InvalidArgument(Where(row, input.name) + ": expected an array of " +
                                     std::to_string(Elements(input)) + " numbers");
    }
    return Status::Ok();
  }
  switch (value.type()) {
    case json::value_t::null:
      out.kind = InferenceValue::Kind::kMissing;
      return Status::Ok();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      out.kind = InferenceValue::Kind::kNumber;
      out.number = value.get<double>();
      return Status::Ok();
    case json::value_t::string:
      out.kind = InferenceValue::Kind::kText;
      out.text = value.get<std::string>();
      return Status::Ok();
    default:
      return Status::InvalidArgument(Where(row, input.name) + ": " +
                                     Excerpt(value.dump(-1, ' ', false, json::error_handler_t::replace)) +
                                     " is not a number, a string or null");
  }
}

// Which model input each of `columns` is (-1: the label column, ignored); `seen` marks
// the inputs found.
Status MapColumns(const std::vector<std::string>& columns, const ServedModelInfo& info, std::vector<int>& map,
                  std::vector<bool>& seen) {
  map.assign(columns.size(), -1);
  seen.assign(info.inputs.size(), false);
  for (size_t c = 0; c < columns.size(); ++c) {
    auto it = std::find_if(info.inputs.begin(), info.inputs.end(),
                           [&](const ServedInput& input) { return input.name == columns[c]; });
    if (it == info.inputs.end()) {
      if (!info.target.empty() && columns[c] == info.target) continue;
      return Status::InvalidArgument("unknown column '" + Excerpt(columns[c]) +
                                     "'; the model reads: " + InputList(info));
    }
    const auto index = static_cast<size_t>(it - info.inputs.begin());
    if (seen[index]) return Status::InvalidArgument("column '" + Excerpt(columns[c]) + "' appears twice");
    seen[index] = true;
    map[c] = static_cast<int>(index);
  }
  return Status::Ok();
}

Status CheckNoneMissing(const std::vector<bool>& seen, const ServedModelInfo& info) {
  std::string missing;
  for (size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) missing += (missing.empty() ? "'" : ", '") + info.inputs[i].name + "'";
  }
  if (!missing.empty())
    return Status::InvalidArgument("missing column " + missing + "; the model reads: " + InputList(info));
  return Status::Ok();
}

// Both: every column known, every input there.
Status MapColumns(const std::vector<std::string>& columns, const ServedModelInfo& info, std::vector<int>& map) {
  std::vector<bool> seen;
  SLUICE_RETURN_IF_ERROR(MapColumns(columns, info, map, seen));
  return CheckNoneMissing(seen, info);
}

Status FromSplit(const json& split, const ServedModelInfo& info, Rows& rows) {
  if (!split.is_object() || !split.contains("columns") || !split.contains("data") || !split["columns"].is_array() ||
      !split["data"].is_array()) {
    return Status::InvalidArgument("dataframe_split must be an object with arrays \"columns\" and \"data\"");
  }
  std::vector<std::string> columns;
  for (const json& c : split["columns"]) {
    if (!c.is_string()) return Status::InvalidArgument("dataframe_split: column names must be strings");
    columns.push_back(c.get<std::string>());
  }
  std::vector<int> map;
  SLUICE_RETURN_IF_ERROR(MapColumns(columns, info, map));
  const json& data = split["data"];
  rows.resize(data.size());
  for (size_t r = 0; r < data.size(); ++r) {
    if (!data[r].is_array() || data[r].size() != columns.size()) {
      return Status::InvalidArgument("dataframe_split: row " + std::to_string(r + 1) + " must be an array of " +
                                     std::to_string(columns.size()) + " values, one per column");
    }
    rows[r].resize(info.inputs.size());
    for (size_t c = 0; c < columns.size(); ++c) {
      if (map[c] < 0) continue;
      const auto i = static_cast<size_t>(map[c]);
      SLUICE_RETURN_IF_ERROR(ToValue(data[r][c], info.inputs[i], r, rows[r][i]));
    }
  }
  return Status::Ok();
}

Status FromRecord(const json& record, const ServedModelInfo& info, size_t r, std::vector<InferenceValue>& row) {
  std::vector<std::string> columns;
  for (const auto& [key, value] : record.items()) columns.push_back(key);
  std::vector<int> map;
  if (Status s = MapColumns(columns, info, map); !s.ok()) {
    return Status::InvalidArgument("row " + std::to_string(r + 1) + ": " + s.message());
  }
  row.resize(info.inputs.size());
  size_t c = 0;
  for (const auto& [key, value] : record.items()) {
    if (map[c] >= 0) {
      const auto i = static_cast<size_t>(map[c]);
      SLUICE_RETURN_IF_ERROR(ToValue(value, info.inputs[i], r, row[i]));
    }
    ++c;
  }
  return Status::Ok();
}

// instances (or inputs as a list): records, or bare values of a one-input model.
Status FromInstances(const json& list, const char* key, const ServedModelInfo& info, Rows& rows) {
  rows.resize(list.size());
  for (size_t r = 0; r < list.size(); ++r) {
    if (list[r].is_object()) {
      SLUICE_RETURN_IF_ERROR(FromRecord(list[r], info, r, rows[r]));
    } else if (info.inputs.size() == 1) {
      rows[r].resize(1);
      SLUICE_RETURN_IF_ERROR(ToValue(list[r], info.inputs[0], r, rows[r][0]));
    } else {
      return Status::InvalidArgument(std::string(key) + ": row " + std::to_string(r + 1) +
                                     " must be an object naming the columns; the model reads: " + InputList(info));
    }
  }
  return Status::Ok();
}

// inputs as an object: one array per column.
Status FromColumns(const json& columns_json, const ServedModelInfo& info, Rows& rows) {
  std::vector<std::string> columns;
  for (const auto& [key, value] : columns_json.items()) columns.push_back(key);
  std::vector<int> map;
  SLUICE_RETURN_IF_ERROR(MapColumns(columns, info, map));
  size_t n = 0, c = 0;
  for (const auto& [key, value] : columns_json.items()) {
    if (!value.is_array()) return Status::InvalidArgument("inputs: column '" + Excerpt(key) + "' must be an array");
    if (c++ == 0) n = value.size();
    if (value.size() != n) {
      return Status::InvalidArgument("inputs: column '" + Excerpt(key) + "' has " + std::to_string(value.size()) +
                                     " values, the first column " + std::to_string(n));
    }
  }
  rows.assign(n, std::vector<InferenceValue>(info.inputs.size()));
  c = 0;
  for (const auto& [key, value] : columns_json.items()) {
    if (map[c] >= 0) {
      const auto i = static_cast<size_t>(map[c]);
      for (size_t r = 0; r < n; ++r) SLUICE_RETURN_IF_ERROR(ToValue(value[r], info.inputs[i], r, rows[r][i]));
    }
    ++c;
  }
  return Status::Ok();
}

Status FromCsv(const std::string& body, const ServedModelInfo& info, Rows& rows) {
  if (info.inputs.size() == 1 && IsTensor(info.inputs[0])) {
    return Status::InvalidArgument("text/csv is for tables and text; send images as JSON");
  }
  tabular::ReadOptions options;
  // Every cell as written: the model turns text into numbers as `sluice predict` does
  // for a CSV file.
  for (const ServedInput& input : info.inputs) {
    tabular::Column column;
    column.name = input.name;
    column.type = tabular::ColumnType::kNominal;
    options.known_columns.push_back(std::move(column));
  }
  tabular::Table table;
  SLUICE_RETURN_IF_ERROR(tabular::ParseCsv("request", body, options, table));
  std::vector<std::string> columns;
  for (const tabular::Column& column : table.columns) columns.push_back(column.name);
  std::vector<int> map;
  SLUICE_RETURN_IF_ERROR(MapColumns(columns, info, map));
  rows.assign(table.rows.size(), std::vector<InferenceValue>(info.inputs.size()));
  for (size_t r = 0; r < table.rows.size(); ++r) {
    for (size_t c = 0; c < columns.size(); ++c) {
      if (map[c] < 0) continue;
      const tabular::Cell& cell = table.rows[r][c];
      InferenceValue& v = rows[r][static_cast<size_t>(map[c])];
      if (cell.missing) continue;
      v.kind = InferenceValue::Kind::kText;
      v.text = cell.text;
    }
  }
  return Status::Ok();
}

// Deeper than any request body needs (an image tensor nests five levels inside its
// request). The parser itself does not recurse, but printing a value and walking a
// tensor do: a client's 1 MB of '[' would overflow the stack.
constexpr int kMaxJsonDepth = 64;

// Whether `text`'s arrays and objects nest deeper than `limit` (brackets inside strings
// do not count). One pass over the bytes, before anything is parsed.
bool NestsDeeperThan(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

Status ParseJson(const std::string& body, json& out) {
  if (NestsDeeperThan(body, kMaxJsonDepth)) {
    return Status::InvalidArgument("the JSON nests arrays and objects deeper than " + std::to_string(kMaxJsonDepth) +
                                   " levels");
  }
  try {
    out = json::parse(body);
  } catch (const json::exception& e) {  // a syntax error, or a number past a double's range (1e400)
    return Status::InvalidArgument("malformed JSON: " + MessageExcerpt(e));
  }
  if (!out.is_object()) return Status::InvalidArgument("the body must be a JSON object");
  return Status::Ok();
}

std::string Quoted(const std::string& text) { return json(text).dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

Status ParseScoring(const std::string& body, std::string_view content_type, const ServedModelInfo& info, Rows& rows) {
  rows.clear();
  if (content_type.substr(0, 8) == "text/csv") return FromCsv(body, info, rows);
  json request;
  SLUICE_RETURN_IF_ERROR(ParseJson(body, request));
  if (request.contains("dataframe_split")) return FromSplit(request["dataframe_split"], info, rows);
  if (request.contains("dataframe_records")) {
    const json& records = request["dataframe_records"];
    if (!records.is_array()) return Status::InvalidArgument("dataframe_records must be an array of objects");
    rows.resize(records.size());
    for (size_t r = 0; r < records.size(); ++r) {
      if (!records[r].is_object()) {
        return Status::InvalidArgument("dataframe_records: row " + std::to_string(r + 1) + " is not an object");
      }
      SLUICE_RETURN_IF_ERROR(FromRecord(records[r], info, r, rows[r]));
    }
    return Status::Ok();
  }
  for (const char* key : {"instances", "inputs"}) {
    if (!request.contains(key)) continue;
    const json& list = request[key];
    if (list.is_array()) return FromInstances(list, key, info, rows);
    if (list.is_object() && std::string(key) == "inputs") return FromColumns(list, info, rows);
    return Status::InvalidArgument(std::string(key) + " must be an array" +
                                   (std::string(key) == "inputs" ? " or an object of columns" : ""));
  }
  return Status::InvalidArgument(
      "the body holds none of dataframe_split, dataframe_records, instances, inputs (MLflow's scoring formats)");
}

void AppendNumber(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, result.ptr);
}

std::string FormatScoring(const ServedModelInfo& info, const std::vector<double>& out, size_t rows) {
  std::string text = "{\"predictions\":[";
  text.reserve(32 + rows * static_cast<size_t>(info.output_width) * 24);
  const auto width = static_cast<size_t>(info.output_width);
  std::vector<std::string> labels;
  labels.reserve(info.class_names.size());
  for (const std::string& name : info.class_names) labels.push_back(Quoted(name));
  for (size_t r = 0; r < rows; ++r) {
    const double* row = out.data() + r * width;
    text += r ? ",{" : "{";
    if (info.task == "regression") {
      text += "\"value\":";
      AppendNumber(text, row[0]);
    } else {
      if (info.task == "classification") {
        const auto best = static_cast<size_t>(std::max_element(row, row + width) - row);
        text += "\"label\":";
        text += best < labels.size() ? labels[best] : std::to_string(best);
        text += ",\"probabilities\":[";
      } else {
        text += "\"embedding\":[";
      }
      for (size_t c = 0; c < width; ++c) {
        if (c) text += ',';
        AppendNumber(text, row[c]);
      }
      text += ']';
    }
    text += '}';
  }
  text += "]}\n";
  return text;
}

Status ParseInfer(const std::string& body, const ServedModelInfo& info, Rows& rows, std::string& id) {
  rows.clear();
  json request;
  SLUICE_RETURN_IF_ERROR(ParseJson(body, request));
  id = request.contains("id") && request["id"].is_string() ? request["id"].get<std::string>() : "";
  if (!request.contains("inputs") || !request["inputs"].is_array()) {
    return Status::InvalidArgument("the body must hold \"inputs\": an array of {name, shape, datatype, data}");
  }
  std::vector<std::string> names;
  for (const json& input : request["inputs"]) {
    if (!input.is_object() || !input.contains("name") || !input["name"].is_string() || !input.contains("shape") ||
        !input["shape"].is_array() || !input.contains("data")) {
      return Status::InvalidArgument("each input must be an object with name, shape, datatype and data");
    }
    names.push_back(input["name"].get<std::string>());
  }
  std::vector<int> map;
  std::vector<bool> seen;
  SLUICE_RETURN_IF_ERROR(MapColumns(names, info, map, seen));
  int64_t n = -1;
  for (size_t k = 0; k < names.size(); ++k) {
    const json& input = request["inputs"][k];
    std::vector<int64_t> shape;
    for (const json& d : input["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) {
        return Status::InvalidArgument("input '" + Excerpt(names[k]) + "': shape must be non-negative integers");
      }
      shape.push_back(d.get<int64_t>());
    }
    if (shape.empty()) return Status::InvalidArgument("input '" + Excerpt(names[k]) + "': shape is empty");
    if (map[k] < 0) continue;
    const ServedInput& model_input = info.inputs[static_cast<size_t>(map[k])];
    int64_t per_row = 1, values = 0;
    bool overflow = false;
    for (size_t d = 1; d < shape.size(); ++d) overflow |= __builtin_mul_overflow(per_row, shape[d], &per_row);
    overflow |= __builtin_mul_overflow(shape[0], per_row, &values);
    if (overflow) {
      return Status::InvalidArgument("input '" + Excerpt(names[k]) + "': shape " + Excerpt(input["shape"].dump()) +
                                     " has too many values");
    }
    const int64_t want = IsTensor(model_input) ? Elements(model_input) : 1;
    if (per_row != want) {
      return Status::InvalidArgument("input '" + Excerpt(names[k]) + "': shape [" + std::to_string(shape[0]) +
                                     ", ...] gives " + std::to_string(per_row) + " values per row; the model takes " +
                                     std::to_string(want));
    }
    if (n >= 0 && shape[0] != n) {
      return Status::InvalidArgument("input '" + Excerpt(names[k]) + "' has " + std::to_string(shape[0]) +
                                     " rows, another input " + std::to_string(n));
    }
    n = shape[0];
    // Data may be flat or nested; either way row-major.
    std::vector<const json*> order;
    std::function<void(const json&)> walk = [&](const json& v) {
      if (v.is_array()) {
        for (const json& e : v) walk(e);
      } else {
        order.push_back(&v);
      }
    };
    walk(input["data"]);
    if (static_cast<int64_t>(order.size()) != values) {
      return Status::InvalidArgument("input '" + Excerpt(names[k]) + "': " + std::to_string(order.size()) +
                                     " values for shape " + input["shape"].dump());
    }
    if (input.contains("datatype") && !input["datatype"].is_string()) {
      return Status::InvalidArgument("input '" + Excerpt(names[k]) + "': datatype must be a string (FP32, BYTES, ...)");
    }
    const std::string datatype = input.value("datatype", "");
    const bool bytes = datatype == "BYTES";
    if (!datatype.empty() && !bytes && datatype.rfind("FP", 0) != 0 && datatype.rfind("INT", 0) != 0 &&
        datatype.rfind("UINT", 0) != 0 && datatype != "BOOL") {
      return Status::InvalidArgument("input '" + Excerpt(names[k]) + "': unknown datatype '" + Excerpt(datatype) + "'");
    }
    if (rows.empty()) rows.assign(static_cast<size_t>(n), std::vector<InferenceValue>(info.inputs.size()));
    const auto i = static_cast<size_t>(map[k]);
    for (int64_t r = 0; r < n; ++r) {
      InferenceValue& v = rows[static_cast<size_t>(r)][i];
      if (IsTensor(model_input)) {
        v.kind = InferenceValue::Kind::kNumbers;
        v.numbers.resize(static_cast<size_t>(per_row));
        for (int64_t e = 0; e < per_row; ++e) {
          const json& x = *order[static_cast<size_t>(r * per_row + e)];
          if (!x.is_number()) {
            return Status::InvalidArgument(Where(static_cast<size_t>(r), names[k]) + ": " + Excerpt(x.dump()) +
                                           " is not a number");
          }
          v.numbers[static_cast<size_t>(e)] = x.get<double>();
        }
        continue;
      }
      const json& x = *order[static_cast<size_t>(r)];
      if (bytes && !x.is_string() && !x.is_null()) {
        return Status::InvalidArgument(Where(static_cast<size_t>(r), names[k]) + ": datatype BYTES, but " +
                                       Excerpt(x.dump()) + " is not a string");
      }
      if (!bytes && !datatype.empty() && !x.is_number() && !x.is_null()) {
        return Status::InvalidArgument(Where(static_cast<size_t>(r), names[k]) + ": datatype " + datatype + ", but " +
                                       Excerpt(x.dump(-1, ' ', false, json::error_handler_t::replace)) +
                                       " is not a number");
      }
      SLUICE_RETURN_IF_ERROR(ToValue(x, model_input, static_cast<size_t>(r), v));
    }
  }
  return CheckNoneMissing(seen, info);
}

std::string FormatInfer(const ServedModelInfo& info, const std::string& name, int64_t version, const std::string& id,
                        const std::vector<double>& out, size_t rows) {
  const auto width = static_cast<size_t>(info.output_width);
  std::string text = "{\"model_name\":" + Quoted(name) + ",\"model_version\":\"" + std::to_string(version) + "\"";
  if (!id.empty()) text += ",\"id\":" + Quoted(id);
  text += ",\"outputs\":[";
  auto tensor = [&](const char* output, bool matrix) {
    text += "{\"name\":\"";
    text += output;
    text += "\",\"datatype\":\"FP64\",\"shape\":[" + std::to_string(rows);
    if (matrix) text += "," + std::to_string(width);
    text += "],\"data\":[";
    for (size_t i = 0; i < rows * width; ++i) {
      if (i) text += ',';
      AppendNumber(text, out[i]);
    }
    text += "]}";
  };
  if (info.task == "classification") {
    text += "{\"name\":\"label\",\"datatype\":\"BYTES\",\"shape\":[" + std::to_string(rows) + "],\"data\":[";
    for (size_t r = 0; r < rows; ++r) {
      const double* row = out.data() + r * width;
      const auto best = static_cast<size_t>(std::max_element(row, row + width) - row);
      if (r) text += ',';
      text += best < info.class_names.size() ? Quoted(info.class_names[best]) : Quoted(std::to_string(best));
    }
    text += "]},";
    tensor("probabilities", true);
  } else if (info.task == "regression") {
    tensor("value", false);
  } else {
    tensor("embedding", true);
  }
  text += "]}\n";
  return text;
}

std::string ModelMetadata(const ServedModelInfo& info, const std::string& name, int64_t version,
                          const std::string& reference) {
  json inputs = json::array();
  for (const ServedInput& input : info.inputs) {
    std::vector<int64_t> shape{-1};
    shape.insert(shape.end(), input.shape.begin(), input.shape.end());
    inputs.push_back({{"name", input.name}, {"datatype", input.datatype}, {"shape", shape}});
  }
  json outputs = json::array();
  if (info.task == "classification") {
    outputs.push_back({{"name", "label"}, {"datatype", "BYTES"}, {"shape", {-1}}});
    outputs.push_back({{"name", "probabilities"}, {"datatype", "FP64"}, {"shape", {-1, info.output_width}}});
  } else if (info.task == "regression") {
    outputs.push_back({{"name", "value"}, {"datatype", "FP64"}, {"shape", {-1}}});
  } else {
    outputs.push_back({{"name", "embedding"}, {"datatype", "FP64"}, {"shape", {-1, info.output_width}}});
  }
  json parameters = {
      {"version", version}, {"reference", reference}, {"task", info.task}, {"precision", info.precision}};
  if (!info.class_names.empty()) parameters["class_names"] = info.class_names;
  return json{{"name", name},         {"versions", {std::to_string(version)}},
              {"platform", "sluice"}, {"inputs", inputs},
              {"outputs", outputs},   {"parameters", parameters}}
             .dump(-1, ' ', false, json::error_handler_t::replace) +
         "\n";
}

}  // namespace sluice::serve
