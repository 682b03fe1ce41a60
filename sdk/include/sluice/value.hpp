// Parameter values as plugins receive them, already validated against the contract.
#ifndef SLUICE_VALUE_HPP_
#define SLUICE_VALUE_HPP_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sluice/export.h"

namespace sluice {

// One parameter value. std::monostate means "not set" (an optional parameter left out).
using Value = std::variant<std::monostate, bool, int64_t, double, std::string, std::vector<int64_t>,
                           std::vector<double>, std::vector<std::string>>;

// The value as TOML/JSON text: 3, 0.001, "adamw", [256, 128], true.
SLUICE_API std::string ValueToString(const Value& value);

// The resolved parameters of one stage: every declared parameter, defaults filled in.
// Owned by the host; a plugin reads it for the duration of Stage::Run.
// Accessors throw sluice::ParamError (a std::runtime_error) on a missing or mistyped
// name; the SDK turns that into a failed stage, never a crash.
class SLUICE_API Params {
 public:
  Params() = default;
  explicit Params(std::map<std::string, Value, std::less<>> values) : values_(std::move(values)) {}

  bool Has(std::string_view name) const;  // declared and set (not monostate)
  const Value& Get(std::string_view name) const;

  bool Bool(std::string_view name) const;
  int64_t Int(std::string_view name) const;
  double Float(std::string_view name) const;  // an int parameter converts
  const std::string& String(std::string_view name) const;
  const std::vector<int64_t>& IntList(std::string_view name) const;
  const std::vector<double>& FloatList(std::string_view name) const;
  const std::vector<std::string>& StringList(std::string_view name) const;

  const std::map<std::string, Value, std::less<>>& values() const { return values_; }
  void Set(std::string name, Value value) { values_[std::move(name)] = std::move(value); }

 private:
  std::map<std::string, Value, std::less<>> values_;
};

}  // namespace sluice

#endif  // SLUICE_VALUE_HPP_
