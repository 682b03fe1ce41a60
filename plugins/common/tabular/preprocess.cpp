#include "preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "sluice/excerpt.hpp"

namespace sluice::tabular {

namespace {

std::string CellText(const Cell& cell, ColumnType type) {
  if (type == ColumnType::kNumeric && cell.text.empty()) return std::to_string(cell.number);
  return cell.text;
}

// A numeric value of a cell, parsing text when the column was read as text (a CSV whose
// column the model knows as numeric or as a date).
bool NumberOf(const Cell& cell, const Column& column, const Column* expected, double& value) {
  if (column.type == ColumnType::kNumeric || column.type == ColumnType::kDate) {
    value = cell.number;
    return true;
  }
  if (expected && expected->type == ColumnType::kDate) return ParseDate(cell.text, expected->date_format, value);
  return ParseNumber(cell.text, value);
}

std::string Where(const Table& table, size_t row) {
  return table.source + ":" + std::to_string(row < table.lines.size() ? table.lines[row] : 0);
}

}  // namespace

Status Preprocessor::Fit(const Table& table, const std::vector<size_t>& train_rows, const FitOptions& options,
                         Preprocessor& out, std::vector<std::string>& notes) {
  out = Preprocessor();
  if (table.columns.size() < 2) return Status::InvalidArgument(table.source + ": a table needs a target and features");
  out.target = options.target.empty() ? table.columns.back().name : options.target;
  const auto target_index = table.Find(out.target);
  if (!target_index) {
    std::string names;
    for (const Column& c : table.columns) names += (names.empty() ? "" : ", ") + c.name;
    return Status::InvalidArgument(table.source + ": no column named '" + Excerpt(out.target) +
                                   "' (columns: " + Excerpt(names, 300) + ")");
  }
  const Column& target = table.columns[*target_index];
  for (const std::string& d : options.drop) {
    if (!table.Find(d))
      return Status::InvalidArgument(table.source + ": cannot drop column '" + Excerpt(d) + "': there is none");
  }

  // The task: asked for, or what the target column looks like.
  std::set<double> distinct;
  bool integral = true;
  for (size_t r : train_rows) {
    const Cell& cell = table.rows[r][*target_index];
    if (cell.missing || target.type != ColumnType::kNumeric) continue;
    distinct.insert(cell.number);
    integral = integral && cell.number == std::floor(cell.number);
  }
  out.task = options.task;
  if (out.task == "auto") {
    out.task =
        target.type != ColumnType::kNumeric || (integral && distinct.size() <= 10) ? "classification" : "regression";
  }
  if (out.task == "classification") {
    if (target.type == ColumnType::kNominal && !target.values.empty() && table.source.size() >= 5 &&
        table.source.compare(table.source.size() - 5, 5, ".arff") == 0) {
      out.class_names = target.values;  // ARFF: the declared order
    } else if (target.type == ColumnType::kNumeric) {
      for (double v : distinct) out.class_names.push_back(CellText(Cell{false, v, ""}, ColumnType::kNumeric));
      for (std::string& name : out.class_names) {
        // 1.000000 -> 1
        double v;
        if (ParseNumber(name, v) && v == std::floor(v)) name = std::to_string(static_cast<int64_t>(v));
      }
    } else {
      std::set<std::string> seen;
      for (size_t r : train_rows) {
        if (!table.rows[r][*target_index].missing) seen.insert(table.rows[r][*target_index].text);
      }
      out.class_names.assign(seen.begin(), seen.end());
    }
    if (out.class_names.size() < 2) {
      return Status::InvalidArgument(table.source + ": the target '" + Excerpt(out.target) +
                                     "' has fewer than two classes in "
                                     "the training rows");
    }
  } else {
    if (target.type != ColumnType::kNumeric) {
      return Status::InvalidArgument(table.source + ": task = regression needs a numeric target; '" +
                                     Excerpt(out.target) + "' is " + ColumnTypeName(target.type));
    }
    double sum = 0, sum_sq = 0, n = 0;
    for (size_t r : train_rows) {
      const Cell& cell = table.rows[r][*target_index];
      if (cell.missing) continue;
      sum += cell.number;
      sum_sq += cell.number * cell.number;
      ++n;
    }
    out.target_shift = n > 0 ? sum / n : 0;
    const double var = n > 0 ? sum_sq / n - out.target_shift * out.target_shift : 0;
    out.target_scale = var > 1e-24 ? std::sqrt(var) : 1.0;
  }

  for (size_t c = 0; c < table.columns.size(); ++c) {
    const Column& col = table.columns[c];
    if (c == *target_index || std::count(options.drop.begin(), options.drop.end(), col.name)) continue;
    Feature f;
    f.column = col.name;
    if (col.type == ColumnType::kNumeric || col.type == ColumnType::kDate) {
      std::vector<double> values;
      for (size_t r : train_rows) {
        if (!table.rows[r][c].missing) values.push_back(table.rows[r][c].number);
      }
      if (!values.empty()) {
        if (options.impute == "median") {
          std::sort(values.begin(), values.end());
          const size_t m = values.size() / 2;
          f.fill = values.size() % 2 ? values[m] : (values[m - 1] + values[m]) / 2;
        } else {
          double sum = 0;
          for (double v : values) sum += v;
          f.fill = sum / static_cast<double>(values.size());
        }
      } else {
        notes.push_back("column '" + Excerpt(col.name) + "' has no values in the training rows; it is all " +
                        std::to_string(f.fill));
      }
      if (options.standardize) {
        // Statistics of the imputed training column (imputation, then scaling).
        double sum = 0, sum_sq = 0;
        const auto n = static_cast<double>(train_rows.size());
        for (size_t r : train_rows) {
          const double v = table.rows[r][c].missing ? f.fill : table.rows[r][c].number;
          sum += v;
          sum_sq += v * v;
        }
        f.shift = n > 0 ? sum / n : 0;
        const double var = n > 0 ? sum_sq / n - f.shift * f.shift : 0;
        f.scale = var > 1e-24 ? std::sqrt(var) : 1.0;
      }
    } else {
      if (col.type == ColumnType::kNominal && !col.values.empty() && table.source.size() >= 5 &&
          table.source.compare(table.source.size() - 5, 5, ".arff") == 0) {
        f.categories = col.values;
      } else {
        std::set<std::string> seen;
        for (size_t r : train_rows) {
          if (!table.rows[r][c].missing) seen.insert(table.rows[r][c].text);
        }
        f.categories.assign(seen.begin(), seen.end());
      }
      if (static_cast<int64_t>(f.categories.size()) > options.max_categories) {
        notes.push_back("column '" + Excerpt(col.name) + "' left out: " + std::to_string(f.categories.size()) +
                        " distinct values, more than max_categories = " + std::to_string(options.max_categories));
        continue;
      }
      f.kind = options.encoding == "embedding" ? Feature::Kind::kEmbedding : Feature::Kind::kOneHot;
    }
    out.features.push_back(std::move(f));
    Column input = col;
    if (input.type == ColumnType::kString) input.type = ColumnType::kNominal;
    out.inputs.push_back(std::move(input));
  }
  if (out.features.empty()) return Status::InvalidArgument(table.source + ": no feature columns are left");
  return Status::Ok();
}

int64_t Preprocessor::dense_width() const {
  int64_t width = 0;
  for (const Feature& f : features) {
    if (f.kind == Feature::Kind::kNumeric) ++width;
    if (f.kind == Feature::Kind::kOneHot) width += static_cast<int64_t>(f.categories.size());
  }
  return width;
}

std::vector<int64_t> Preprocessor::cardinality() const {
  std::vector<int64_t> out;
  for (const Feature& f : features) {
    if (f.kind == Feature::Kind::kEmbedding) out.push_back(static_cast<int64_t>(f.categories.size()) + 1);
  }
  return out;
}

std::vector<std::string> Preprocessor::embedded_names() const {
  std::vector<std::string> out;
  for (const Feature& f : features) {
    if (f.kind == Feature::Kind::kEmbedding) out.push_back(f.column);
  }
  return out;
}

Status Preprocessor::Transform(const Table& table, const std::vector<size_t>& rows, std::vector<float>& dense,
                               std::vector<int64_t>& codes) const {
  std::vector<size_t> source;
  std::vector<const Column*> expected;
  const auto positions = table.Index();
  std::map<std::string, const Column*, std::less<>> schema;
  for (const Column& col : inputs) schema.emplace(col.name, &col);
  for (const Feature& f : features) {
    auto c = positions.find(f.column);
    if (c == positions.end())
      return Status::InvalidArgument(table.source + ": no column '" + Excerpt(f.column) + "', which the model reads");
    source.push_back(c->second);
    auto in = schema.find(f.column);
    expected.push_back(in == schema.end() ? nullptr : in->second);
  }
  // Category lookup per categorical feature.
  std::vector<std::map<std::string, int64_t>> lookup(features.size());
  for (size_t i = 0; i < features.size(); ++i) {
    for (size_t k = 0; k < features[i].categories.size(); ++k)
      lookup[i][features[i].categories[k]] = static_cast<int64_t>(k) + 1;
  }
  const int64_t width = dense_width();
  const size_t embedded = cardinality().size();
  dense.assign(rows.size() * static_cast<size_t>(width), 0.0f);
  codes.assign(rows.size() * embedded, 0);
  for (size_t out_row = 0; out_row < rows.size(); ++out_row) {
    const size_t r = rows[out_row];
    // data() + offset: a table whose every column is embedded has no dense features.
    float* d = dense.data() + out_row * static_cast<size_t>(width);
    int64_t* e = embedded ? codes.data() + out_row * embedded : nullptr;
    for (size_t i = 0; i < features.size(); ++i) {
      const Feature& f = features[i];
      const Column& column = table.columns[source[i]];
      const Cell& cell = table.rows[r][source[i]];
      if (f.kind == Feature::Kind::kNumeric) {
        double v = f.fill;
        if (!cell.missing && !NumberOf(cell, column, expected[i], v)) {
          return Status::InvalidArgument(Where(table, r) + ": column '" + Excerpt(f.column) + "': '" +
                                         Excerpt(cell.text) + "' is not a number");
        }
        *d++ = static_cast<float>((v - f.shift) / f.scale);
        continue;
      }
      int64_t code = 0;
      if (!cell.missing) {
        auto it = lookup[i].find(CellText(cell, column.type));
        if (it != lookup[i].end()) code = it->second;
      }
      if (f.kind == Feature::Kind::kOneHot) {
        if (code > 0) d[code - 1] = 1.0f;
        d += f.categories.size();
      } else {
        *e++ = code;
      }
    }
  }
  return Status::Ok();
}

Status Preprocessor::Targets(const Table& table, const std::vector<size_t>& rows, std::vector<int64_t>& classes,
                             std::vector<float>& values) const {
  auto c = table.Find(target);
  if (!c) return Status::InvalidArgument(table.source + ": no target column '" + Excerpt(target) + "'");
  const Column& column = table.columns[*c];
  classes.clear();
  values.clear();
  for (size_t r : rows) {
    const Cell& cell = table.rows[r][*c];
    if (cell.missing)
      return Status::InvalidArgument(Where(table, r) + ": the target '" + Excerpt(target) + "' is missing");
    if (classification()) {
      std::string text = cell.text;
      double v;
      if (column.type == ColumnType::kNumeric && ParseNumber(text, v) && v == std::floor(v)) {
        text = std::to_string(static_cast<int64_t>(v));
      }
      auto it = std::find(class_names.begin(), class_names.end(), text);
      if (it == class_names.end()) {
        return Status::InvalidArgument(Where(table, r) + ": class '" + Excerpt(cell.text) + "' of '" + Excerpt(target) +
                                       "' was not seen in the training rows");
      }
      classes.push_back(it - class_names.begin());
    } else {
      double v;
      if (!NumberOf(cell, column, nullptr, v)) {
        return Status::InvalidArgument(Where(table, r) + ": target '" + Excerpt(target) + "': '" + Excerpt(cell.text) +
                                       "' is not a number");
      }
      values.push_back(static_cast<float>((v - target_shift) / target_scale));
    }
  }
  return Status::Ok();
}

nlohmann::json Preprocessor::ToJson() const {
  nlohmann::json features_json = nlohmann::json::array();
  for (const Feature& f : features) {
    nlohmann::json j = {{"column", f.column}};
    if (f.kind == Feature::Kind::kNumeric) {
      j["kind"] = "numeric";
      j["fill"] = f.fill;
      j["shift"] = f.shift;
      j["scale"] = f.scale;
    } else {
      j["kind"] = f.kind == Feature::Kind::kOneHot ? "onehot" : "embedding";
      j["categories"] = f.categories;
    }
    features_json.push_back(std::move(j));
  }
  nlohmann::json inputs_json = nlohmann::json::array();
  for (const Column& c : inputs) {
    nlohmann::json j = {{"name", c.name}, {"type", ColumnTypeName(c.type)}};
    if (!c.values.empty()) j["values"] = c.values;
    if (!c.date_format.empty()) j["date_format"] = c.date_format;
    inputs_json.push_back(std::move(j));
  }
  nlohmann::json out = {{"kind", "table"},  {"format_version", 1},       {"task", task},
                        {"target", target}, {"features", features_json}, {"inputs", inputs_json}};
  if (classification()) {
    out["class_names"] = class_names;
  } else {
    out["target_shift"] = target_shift;
    out["target_scale"] = target_scale;
  }
  return out;
}

Status Preprocessor::FromJson(const nlohmann::json& j, Preprocessor& out) {
  try {
    out = Preprocessor();
    if (j.at("kind") != "table") return Status::InvalidArgument("the preprocessing is not for tables");
    if (j.value("format_version", 1) > 1) {
      return Status::InvalidArgument("the table preprocessing is format version " +
                                     std::to_string(j.value("format_version", 1)) + "; this sluice reads version 1");
    }
    out.task = j.at("task").get<std::string>();
    out.target = j.at("target").get<std::string>();
    if (out.classification()) {
      out.class_names = j.at("class_names").get<std::vector<std::string>>();
    } else {
      out.target_shift = j.at("target_shift").get<double>();
      out.target_scale = j.at("target_scale").get<double>();
    }
    for (const auto& fj : j.at("features")) {
      Feature f;
      f.column = fj.at("column").get<std::string>();
      const std::string kind = fj.at("kind").get<std::string>();
      if (kind == "numeric") {
        f.kind = Feature::Kind::kNumeric;
        f.fill = fj.at("fill").get<double>();
        f.shift = fj.at("shift").get<double>();
        f.scale = fj.at("scale").get<double>();
      } else {
        f.kind = kind == "onehot" ? Feature::Kind::kOneHot : Feature::Kind::kEmbedding;
        f.categories = fj.at("categories").get<std::vector<std::string>>();
      }
      out.features.push_back(std::move(f));
    }
    for (const auto& cj : j.at("inputs")) {
      Column c;
      c.name = cj.at("name").get<std::string>();
      const std::string type = cj.at("type").get<std::string>();
      c.type = type == "numeric" ? ColumnType::kNumeric : type == "date" ? ColumnType::kDate : ColumnType::kNominal;
      if (cj.contains("values")) c.values = cj.at("values").get<std::vector<std::string>>();
      if (cj.contains("date_format")) c.date_format = cj.at("date_format").get<std::string>();
      out.inputs.push_back(std::move(c));
    }
    return Status::Ok();
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("malformed table preprocessing: ") + MessageExcerpt(e));
  }
}

}  // namespace sluice::tabular
