#include "sluice/contract.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include <nlohmann/json.hpp>

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
    throw std::runtime_error(std::string("malformed plugin contract: ") + e.what());
  }
}

}  // namespace sluice
