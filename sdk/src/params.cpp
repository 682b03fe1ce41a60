#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "sluice/stage.hpp"
#include "sluice/value.hpp"

namespace sluice {
namespace {

void AppendQuoted(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  out += '"';
}

void AppendDouble(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "nan";
    return;
  }
  if (std::isinf(d)) {
    out += d > 0 ? "inf" : "-inf";
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  // Shortest form that round-trips.
  for (int precision = 1; precision <= 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", precision, d);
    if (std::strtod(shorter, nullptr) == d) {
      std::snprintf(buf, sizeof buf, "%s", shorter);
      break;
    }
  }
  std::string text = buf;
  // Keep floats recognizable as floats in TOML/JSON ("1" -> "1.0").
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  out += text;
}

template <class T>
const T& Typed(const Params& params, std::string_view name, const char* type) {
  const Value& value = params.Get(name);
  if (const T* typed = std::get_if<T>(&value)) return *typed;
  throw StageError("parameter '" + std::string(name) + "' is not " + type + " (it is " + ValueToString(value) + ")");
}

// Writes a Value as TOML/JSON text.
struct ValueWriter {
  std::string& out;
  void operator()(std::monostate) const { out += "null"; }
  void operator()(bool b) const { out += b ? "true" : "false"; }
  void operator()(int64_t i) const { out += std::to_string(i); }
  void operator()(double d) const { AppendDouble(out, d); }
  void operator()(const std::string& s) const { AppendQuoted(out, s); }
  template <class T>
  void operator()(const std::vector<T>& items) const {
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += ", ";
      (*this)(items[i]);
    }
    out += ']';
  }
};

}  // namespace

std::string ValueToString(const Value& value) {
  std::string out;
  std::visit(ValueWriter{out}, value);
  return out;
}

bool Params::Has(std::string_view name) const {
  auto it = values_.find(name);
  return it != values_.end() && !std::holds_alternative<std::monostate>(it->second);
}

const Value& Params::Get(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw StageError("no parameter named '" + std::string(name) + "'");
  return it->second;
}

bool Params::Bool(std::string_view name) const { return Typed<bool>(*this, name, "a bool"); }
int64_t Params::Int(std::string_view name) const { return Typed<int64_t>(*this, name, "an int"); }
double Params::Float(std::string_view name) const {
  const Value& value = Get(name);
  if (const int64_t* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
  return Typed<double>(*this, name, "a float");
}
const std::string& Params::String(std::string_view name) const { return Typed<std::string>(*this, name, "a string"); }
const std::vector<int64_t>& Params::IntList(std::string_view name) const {
  return Typed<std::vector<int64_t>>(*this, name, "a list of ints");
}
const std::vector<double>& Params::FloatList(std::string_view name) const {
  return Typed<std::vector<double>>(*this, name, "a list of floats");
}
const std::vector<std::string>& Params::StringList(std::string_view name) const {
  return Typed<std::vector<std::string>>(*this, name, "a list of strings");
}

PortValue::~PortValue() = default;
Status PortValue::Check() const { return Status::Ok(); }

std::string CheckPublished(const Contract& contract, std::string_view port, const PortValue* value) {
  const PortSpec* declared = contract.FindOutput(port);
  if (!declared) return "published on output '" + std::string(port) + "', which its contract does not declare";
  if (!value) return "published nothing on output '" + std::string(port) + "'";
  if (declared->type != value->port_type()) {
    return "published a " + std::string(value->port_type()) + " on output '" + std::string(port) +
           "', which its contract declares " + declared->type;
  }
  const Status s = value->Check();
  if (!s.ok())
    return "published an invalid " + declared->type + " on output '" + std::string(port) + "': " + s.message();
  return "";
}
StageError::~StageError() = default;
StageContext::~StageContext() = default;
Stage::~Stage() = default;

}  // namespace sluice
