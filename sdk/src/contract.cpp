#include "sluice/contract.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "sluice/excerpt.hpp"
#include "sluice/plugin.hpp"  // internal::DescribeError

namespace sluice {

using nlohmann::json;

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kData:
      return "data";
    case Kind::kModel:
      return "model";
    case Kind::kTrain:
      return "train";
    case Kind::kEval:
      return "eval";
    case Kind::kDeploy:
      return "deploy";
    case Kind::kOther:
      return "other";
  }
  return "other";
}

const char* ParamTypeName(ParamType type) {
  switch (type) {
    case ParamType::kBool:
      return "bool";
    case ParamType::kInt:
      return "int";
    case ParamType::kFloat:
      return "float";
    case ParamType::kString:
      return "string";
    case ParamType::kIntList:
      return "int[]";
    case ParamType::kFloatList:
      return "float[]";
    case ParamType::kStringList:
      return "string[]";
  }
  return "?";
}

const char* StringFormatName(StringFormat format) {
  switch (format) {
    case StringFormat::kNone:
      return "";
    case StringFormat::kDevice:
      return "device";
    case StringFormat::kFile:
      return "file";
    case StringFormat::kDirectory:
      return "directory";
    case StringFormat::kName:
      return "name";
  }
  return "";
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 100 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

namespace {

template <class E>
E ParseEnum(const std::string& text, E last, const char* (*name)(E), const char* what) {
  for (int i = 0; i <= static_cast<int>(last); ++i) {
    E e = static_cast<E>(i);
    if (text == name(e)) return e;
  }
  throw std::runtime_error(std::string("unknown ") + what + " '" + text + "'");
}

std::string Number(double d) {
  char buf[32];
  if (d == std::floor(d) && std::fabs(d) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", d);
  } else {
    std::snprintf(buf, sizeof buf, "%g", d);
  }
  return buf;
}

json ValueToJson(const Value& value) {
  return std::visit(
      [](const auto& v) -> json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return nullptr;
        } else {
          return v;
        }
      },
      value);
}

Value ValueFromJson(const json& j, ParamType type) {
  if (j.is_null()) return std::monostate{};
  switch (type) {
    case ParamType::kBool:
      return j.get<bool>();
    case ParamType::kInt:
      return j.get<int64_t>();
    case ParamType::kFloat:
      return j.get<double>();
    case ParamType::kString:
      return j.get<std::string>();
    case ParamType::kIntList:
      return j.get<std::vector<int64_t>>();
    case ParamType::kFloatList:
      return j.get<std::vector<double>>();
    case ParamType::kStringList:
      return j.get<std::vector<std::string>>();
  }
  return std::monostate{};
}

json PortsToJson(const std::vector<PortSpec>& ports, bool with_optional) {
  json out = json::array();
  for (const PortSpec& p : ports) {
    json j = {{"name", p.name}, {"type", p.type}, {"doc", p.doc}};
    if (with_optional) j["optional"] = p.optional;
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<PortSpec> PortsFromJson(const json& j) {
  std::vector<PortSpec> ports;
  for (const json& p : j) {
    ports.push_back({p.at("name").get<std::string>(), p.at("type").get<std::string>(), p.value("doc", ""),
                     p.value("optional", false)});
  }
  return ports;
}

}  // namespace

std::string ParamSpec::RangeText() const {
  std::string text;
  if (min_ && max_) {
    text =
        std::string(min_exclusive_ ? "(" : "[") + Number(*min_) + ", " + Number(*max_) + (max_exclusive_ ? ")" : "]");
  } else if (min_) {
    text = std::string(min_exclusive_ ? "> " : ">= ") + Number(*min_);
  } else if (max_) {
    text = std::string(max_exclusive_ ? "< " : "<= ") + Number(*max_);
  }
  return text;
}

std::string ParamSpec::ConstraintText() const {
  std::string text = RangeText();
  if (!choices_.empty()) {
    text = "one of ";
    for (size_t i = 0; i < choices_.size(); ++i) text += (i ? "|" : "") + choices_[i];
  }
  if (format_ != StringFormat::kNone) {
    std::string f = format_ == StringFormat::kDevice ? "auto|cpu|cuda[:N]"
                    : format_ == StringFormat::kName ? "a name"
                                                     : std::string("existing ") + StringFormatName(format_);
    text = text.empty() ? f : text + ", " + f;
  }
  if (min_items_ || max_items_) {
    std::string items = std::to_string(min_items_.value_or(0)) + ".." +
                        (max_items_ ? std::to_string(*max_items_) : std::string("")) + " items";
    text = text.empty() ? items : text + ", " + items;
  }
  return text;
}

Contract& Contract::input(std::string name, std::string type, std::string doc) {
  inputs_.push_back({std::move(name), std::move(type), std::move(doc), false});
  return *this;
}

Contract& Contract::optional_input(std::string name, std::string type, std::string doc) {
  inputs_.push_back({std::move(name), std::move(type), std::move(doc), true});
  return *this;
}

Contract& Contract::output(std::string name, std::string type, std::string doc) {
  outputs_.push_back({std::move(name), std::move(type), std::move(doc), false});
  return *this;
}

Contract& Contract::param(ParamSpec spec) {
  params_.push_back(std::move(spec));
  return *this;
}

Contract& Contract::metric(MetricSpec spec) {
  metrics_.push_back(std::move(spec));
  return *this;
}

const MetricSpec* Contract::FindMetric(std::string_view name) const {
  for (const MetricSpec& m : metrics_) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

const char* GoalName(Goal goal) {
  switch (goal) {
    case Goal::kNone:
      return "none";
    case Goal::kMaximize:
      return "maximize";
    case Goal::kMinimize:
      return "minimize";
  }
  return "none";
}

const ParamSpec* Contract::FindParam(std::string_view name) const {
  for (const ParamSpec& p : params_) {
    if (p.name() == name) return &p;
  }
  return nullptr;
}

const PortSpec* Contract::FindInput(std::string_view name) const {
  for (const PortSpec& p : inputs_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const PortSpec* Contract::FindOutput(std::string_view name) const {
  for (const PortSpec& p : outputs_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

namespace {

bool IsIdentifier(const std::string& name) {
  if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

bool TypeFits(ParamType type, const Value& value) {
  switch (type) {
    case ParamType::kBool:
      return std::holds_alternative<bool>(value);
    case ParamType::kInt:
      return std::holds_alternative<int64_t>(value);
    case ParamType::kFloat:
      return std::holds_alternative<double>(value) || std::holds_alternative<int64_t>(value);
    case ParamType::kString:
      return std::holds_alternative<std::string>(value);
    case ParamType::kIntList:
      return std::holds_alternative<std::vector<int64_t>>(value);
    case ParamType::kFloatList:
      return std::holds_alternative<std::vector<double>>(value);
    case ParamType::kStringList:
      return std::holds_alternative<std::vector<std::string>>(value);
  }
  return false;
}

const char* HeldTypeName(const Value& value) {
  static const char* const kNames[] = {"nothing", "bool", "int", "float", "string", "int[]", "float[]", "string[]"};
  return kNames[value.index()];
}

// What is wrong with `value` (`what`, e.g. "its default") for parameter `p`.
std::vector<std::string> ValueProblems(const ParamSpec& p, const Value& value, const std::string& what) {
  std::vector<std::string> out;
  if (!TypeFits(p.type(), value)) {
    out.push_back(what + " is " + HeldTypeName(value) + ", but the parameter is " + ParamTypeName(p.type()));
    return out;
  }
  const std::string shown = ValueToString(value);
  auto check_number = [&](double v) {
    if (!p.InRange(v)) out.push_back(what + " " + shown + " is outside its range " + p.RangeText());
  };
  auto check_element = [&](double v) {
    if (!p.InRange(v)) {
      out.push_back("element " + Number(v) + " of " + what + " " + shown + " is outside its range " + p.RangeText());
    }
  };
  auto check_choice = [&](const std::string& text) {
    if (!p.AllowsChoice(text)) {
      out.push_back(what + " \"" + text + "\" is not one of its choices (" + p.ConstraintText() + ")");
    }
  };
  auto check_count = [&](size_t n) {
    if (!p.AllowsItemCount(static_cast<int64_t>(n))) {
      out.push_back(what + " has " + std::to_string(n) + " items, outside " + p.ConstraintText());
    }
  };
  if (const auto* i = std::get_if<int64_t>(&value)) check_number(static_cast<double>(*i));
  if (const auto* d = std::get_if<double>(&value)) check_number(*d);
  if (const auto* text = std::get_if<std::string>(&value)) check_choice(*text);
  if (const auto* v = std::get_if<std::vector<int64_t>>(&value)) {
    check_count(v->size());
    for (int64_t x : *v) check_element(static_cast<double>(x));
  }
  if (const auto* v = std::get_if<std::vector<double>>(&value)) {
    check_count(v->size());
    for (double x : *v) check_element(x);
  }
  if (const auto* v = std::get_if<std::vector<std::string>>(&value)) {
    check_count(v->size());
    for (const std::string& x : *v) check_choice(x);
  }
  return out;
}

void CheckParam(const ParamSpec& p, std::vector<std::string>& out) {
  const std::string where = "parameter '" + p.name() + "'";
  const bool stringy = p.type() == ParamType::kString || p.type() == ParamType::kStringList;
  const bool numeric = p.type() == ParamType::kInt || p.type() == ParamType::kFloat ||
                       p.type() == ParamType::kIntList || p.type() == ParamType::kFloatList;
  const bool list =
      p.type() == ParamType::kIntList || p.type() == ParamType::kFloatList || p.type() == ParamType::kStringList;
  if (!IsIdentifier(p.name())) out.push_back(where + ": not a name (letters, digits and '_', not first a digit)");
  if (!p.choices().empty() && !stringy)
    out.push_back(where + ": choices apply to strings, not " + ParamTypeName(p.type()));
  if (p.string_format() != StringFormat::kNone && p.type() != ParamType::kString) {
    out.push_back(where + ": a format applies to strings, not " + ParamTypeName(p.type()));
  }
  if ((p.min_bound() || p.max_bound()) && !numeric) {
    out.push_back(where + ": a range applies to numbers, not " + ParamTypeName(p.type()));
  }
  if ((p.min_item_count() || p.max_item_count()) && !list) {
    out.push_back(where + ": an item count applies to lists, not " + ParamTypeName(p.type()));
  }
  if (p.min_bound() && p.max_bound() &&
      (*p.min_bound() > *p.max_bound() ||
       (*p.min_bound() == *p.max_bound() && (p.min_exclusive() || p.max_exclusive())))) {
    out.push_back(where + ": its range " + p.RangeText() + " allows no value");
  }
  if (p.min_item_count() && p.max_item_count() && *p.min_item_count() > *p.max_item_count()) {
    out.push_back(where + ": at least " + std::to_string(*p.min_item_count()) + " and at most " +
                  std::to_string(*p.max_item_count()) + " items allows no list");
  }
  if (!p.has_default()) return;
  for (const std::string& problem : ValueProblems(p, p.default_value(), "its default"))
    out.push_back(where + ": " + problem);
}

void CheckPorts(const std::vector<PortSpec>& ports, const char* what, std::vector<std::string>& out) {
  std::set<std::string> seen;
  for (const PortSpec& port : ports) {
    if (!IsIdentifier(port.name)) out.push_back(std::string(what) + " '" + port.name + "': not a name");
    if (!seen.insert(port.name).second) out.push_back(std::string(what) + " '" + port.name + "' is declared twice");
    if (port.type.empty()) out.push_back(std::string(what) + " '" + port.name + "' has no type");
  }
}

}  // namespace

bool ParamSpec::InRange(double v) const {
  const bool below = min_ && (min_exclusive_ ? v <= *min_ : v < *min_);
  const bool above = max_ && (max_exclusive_ ? v >= *max_ : v > *max_);
  return !below && !above && !std::isnan(v);
}

bool ParamSpec::AllowsChoice(std::string_view text) const {
  return choices_.empty() || std::find(choices_.begin(), choices_.end(), text) != choices_.end();
}

bool ParamSpec::AllowsItemCount(int64_t n) const {
  return !(min_items_ && n < *min_items_) && !(max_items_ && n > *max_items_);
}

std::vector<std::string> ParamSpec::Problems(const Value& value) const {
  if (std::holds_alternative<std::monostate>(value)) {
    return optional_ ? std::vector<std::string>{} : std::vector<std::string>{"the parameter needs a value"};
  }
  return ValueProblems(*this, value, "the value");
}

std::vector<std::string> Contract::Problems() const {
  std::vector<std::string> out;
  if (!IsValidName(name_)) out.push_back("the plugin's name '" + name_ + "' is not a name (" + kNameRule + ")");
  if (version_.empty()) out.push_back("the plugin has no version");
  std::set<std::string> seen;
  for (const ParamSpec& p : params_) {
    if (!seen.insert(p.name()).second) out.push_back("parameter '" + p.name() + "' is declared twice");
    CheckParam(p, out);
  }
  CheckPorts(inputs_, "input", out);
  CheckPorts(outputs_, "output", out);
  std::set<std::string> metric_names;
  for (const MetricSpec& m : metrics_) {
    if (!IsIdentifier(m.name)) out.push_back("metric '" + m.name + "': not a name (letters, digits and '_')");
    if (!metric_names.insert(m.name).second) out.push_back("metric '" + m.name + "' is declared twice");
  }
  return out;
}

std::string Contract::ToJson() const {
  json params = json::array();
  for (const ParamSpec& p : params_) {
    json j = {{"name", p.name()}, {"type", ParamTypeName(p.type())}, {"doc", p.doc()}};
    if (p.has_default()) j["default"] = ValueToJson(p.default_value());
    if (p.is_optional()) j["optional"] = true;
    if (p.min_bound()) {
      j["min"] = *p.min_bound();
      if (p.min_exclusive()) j["min_exclusive"] = true;
    }
    if (p.max_bound()) {
      j["max"] = *p.max_bound();
      if (p.max_exclusive()) j["max_exclusive"] = true;
    }
    if (!p.choices().empty()) j["choices"] = p.choices();
    if (p.string_format() != StringFormat::kNone) j["format"] = StringFormatName(p.string_format());
    if (p.min_item_count()) j["min_items"] = *p.min_item_count();
    if (p.max_item_count()) j["max_items"] = *p.max_item_count();
    params.push_back(std::move(j));
  }
  json out = {{"name", name_},
              {"version", version_},
              {"kind", KindName(kind_)},
              {"doc", doc_},
              {"inputs", PortsToJson(inputs_, true)},
              {"outputs", PortsToJson(outputs_, false)},
              {"params", std::move(params)}};
  json metrics = json::array();
  for (const MetricSpec& m : metrics_)
    metrics.push_back({{"name", m.name}, {"goal", GoalName(m.goal)}, {"doc", m.doc}});
  out["metrics"] = std::move(metrics);
  return out.dump();
}

Contract Contract::FromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    Contract c(j.at("name").get<std::string>(), j.at("version").get<std::string>(),
               ParseEnum(j.at("kind").get<std::string>(), Kind::kOther, KindName, "plugin kind"));
    c.doc_ = j.value("doc", "");
    c.inputs_ = PortsFromJson(j.at("inputs"));
    c.outputs_ = PortsFromJson(j.at("outputs"));
    for (const json& m : j.value("metrics", json::array())) {  // absent before SDK 1.0
      c.metrics_.push_back({m.at("name").get<std::string>(),
                            ParseEnum(m.value("goal", "none"), Goal::kMinimize, GoalName, "metric goal"),
                            m.value("doc", "")});
    }
    for (const json& p : j.at("params")) {
      ParamType type =
          ParseEnum(p.at("type").get<std::string>(), ParamType::kStringList, ParamTypeName, "parameter type");
      ParamSpec spec(p.at("name").get<std::string>(), type);
      spec.doc(p.value("doc", ""));
      if (p.contains("default")) spec.default_value(ValueFromJson(p.at("default"), type));
      if (p.value("optional", false)) spec.optional();
      if (p.contains("min")) {
        p.value("min_exclusive", false) ? spec.greater_than(p.at("min").get<double>())
                                        : spec.min(p.at("min").get<double>());
      }
      if (p.contains("max")) {
        p.value("max_exclusive", false) ? spec.less_than(p.at("max").get<double>())
                                        : spec.max(p.at("max").get<double>());
      }
      if (p.contains("choices")) spec.choices(p.at("choices").get<std::vector<std::string>>());
      if (p.contains("format")) {
        spec.format(
            ParseEnum(p.at("format").get<std::string>(), StringFormat::kName, StringFormatName, "string format"));
      }
      if (p.contains("min_items")) spec.min_items(p.at("min_items").get<int64_t>());
      if (p.contains("max_items")) spec.max_items(p.at("max_items").get<int64_t>());
      c.params_.push_back(std::move(spec));
    }
    return c;
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("malformed plugin contract: ") + MessageExcerpt(e));
  }
}

namespace internal {
std::string DescribeError(const Contract& contract, const std::vector<std::string>& problems) {
  std::string text = "the contract of plugin '" + contract.name() + "' has " + std::to_string(problems.size()) +
                     (problems.size() == 1 ? " mistake:" : " mistakes:");
  for (const std::string& p : problems) text += "\n  " + p;
  return text;
}
}  // namespace internal

}  // namespace sluice
