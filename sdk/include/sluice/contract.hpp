// What a plugin declares about itself, readable without running it: a one-line doc,
// typed ports and a parameter schema. Declared in C++ with chained setters (as
// LibTorch's options read), serialized to JSON for the C tier and the ELF section.
//
//   sluice::Contract("trainer", "0.1.0", sluice::Kind::kTrain)
//       .doc("Trains a model with minibatch gradient descent")
//       .input("data", sluice::ports::kDataset, "train and validation splits")
//       .output("model", sluice::ports::kTrainedModel, "the trained network")
//       .param(sluice::FloatParam("lr", 1e-3).greater_than(0).doc("learning rate"))
//       .param(sluice::ChoiceParam("optimizer", "adamw", {"sgd", "adam", "adamw"}));
#ifndef SLUICE_CONTRACT_HPP_
#define SLUICE_CONTRACT_HPP_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/export.h"
#include "sluice/value.hpp"

namespace sluice {

enum class Kind { kData, kModel, kTrain, kEval, kDeploy, kOther };
SLUICE_API const char* KindName(Kind kind);

// Port types. A port accepts exactly its type; new types are plain strings.
namespace ports {
inline constexpr const char* kDataset = "dataset";             // sluice::TensorDataset
inline constexpr const char* kModel = "model";                 // sluice::ModelSpec
inline constexpr const char* kTrainedModel = "trained-model";  // sluice::TrainedModel
}  // namespace ports

enum class ParamType { kBool, kInt, kFloat, kString, kIntList, kFloatList, kStringList };
SLUICE_API const char* ParamTypeName(ParamType type);  // "bool", "int", ..., "int[]"

// Extra meaning of a string parameter, checked by the host before anything runs.
enum class StringFormat {
  kNone,
  kDevice,     // auto | cpu | cuda | cuda:N
  kFile,       // an existing regular file (relative: the pipeline's folder, then the data path)
  kDirectory,  // an existing directory (same)
  kName,       // a name that becomes part of a path (a registry name): see IsValidName
};
SLUICE_API const char* StringFormatName(StringFormat format);

// True when `name` is usable as a registry name or a single path component: 1 to 100
// letters, digits, '-', '_' and '.', starting with a letter or a digit.
SLUICE_API bool IsValidName(std::string_view name);
// The rule IsValidName checks, in words, for messages.
inline constexpr const char* kNameRule = "1 to 100 letters, digits, '-', '_' or '.', starting with a letter or digit";

// One parameter. Required values go in the constructor; the rest are optional setters.
// A parameter without a default is required unless optional() is called. Ranges apply
// to numbers and to each element of a list.
class SLUICE_API ParamSpec {
 public:
  ParamSpec(std::string name, ParamType type) : name_(std::move(name)), type_(type) {}

  /// One line shown by `sluice plugins show`.
  ParamSpec& doc(std::string text) {
    doc_ = std::move(text);
    return *this;
  }
  /// Value used when the pipeline leaves the parameter out.
  ParamSpec& default_value(Value value) {
    default_ = std::move(value);
    return *this;
  }
  /// May be left out without a default; the plugin sees Params::Has() == false.
  ParamSpec& optional() {
    optional_ = true;
    return *this;
  }
  /// Inclusive bounds.
  ParamSpec& min(double bound) {
    min_ = bound;
    min_exclusive_ = false;
    return *this;
  }
  ParamSpec& max(double bound) {
    max_ = bound;
    max_exclusive_ = false;
    return *this;
  }
  ParamSpec& range(double lo, double hi) { return min(lo).max(hi); }
  /// Exclusive bounds.
  ParamSpec& greater_than(double bound) {
    min_ = bound;
    min_exclusive_ = true;
    return *this;
  }
  ParamSpec& less_than(double bound) {
    max_ = bound;
    max_exclusive_ = true;
    return *this;
  }
  /// Allowed values of a string (or each element of a string list).
  ParamSpec& choices(std::vector<std::string> allowed) {
    choices_ = std::move(allowed);
    return *this;
  }
  ParamSpec& format(StringFormat f) {
    format_ = f;
    return *this;
  }
  /// Bounds on the number of elements of a list.
  ParamSpec& min_items(int64_t n) {
    min_items_ = n;
    return *this;
  }
  ParamSpec& max_items(int64_t n) {
    max_items_ = n;
    return *this;
  }

  const std::string& name() const { return name_; }
  ParamType type() const { return type_; }
  const std::string& doc() const { return doc_; }
  const Value& default_value() const { return default_; }
  bool has_default() const { return !std::holds_alternative<std::monostate>(default_); }
  bool is_optional() const { return optional_; }
  bool is_required() const { return !has_default() && !optional_; }
  const std::optional<double>& min_bound() const { return min_; }
  const std::optional<double>& max_bound() const { return max_; }
  bool min_exclusive() const { return min_exclusive_; }
  bool max_exclusive() const { return max_exclusive_; }
  const std::vector<std::string>& choices() const { return choices_; }
  StringFormat string_format() const { return format_; }
  const std::optional<int64_t>& min_item_count() const { return min_items_; }
  const std::optional<int64_t>& max_item_count() const { return max_items_; }

  // What is wrong with `value` for this parameter (its type, range, choices, item count),
  // empty when it is acceptable. A file or directory is not looked for here.
  std::vector<std::string> Problems(const Value& value) const;
  // The constraints one at a time (the host words its messages itself): a number, or a
  // list's element, within the bounds (NaN never is); a string, or a list's element, among
  // the choices (any, when there are none); a list's item count.
  bool InRange(double v) const;
  bool AllowsChoice(std::string_view text) const;
  bool AllowsItemCount(int64_t n) const;

  // Everything allowed, e.g. "[0, 1)", "> 0", "one of sgd|adam|adamw", "1..16 items", or
  // "" when unconstrained.
  std::string ConstraintText() const;
  // Only the numeric bounds: "[0, 1)", ">= 0", or "".
  std::string RangeText() const;

 private:
  std::string name_;
  ParamType type_;
  std::string doc_;
  Value default_;
  bool optional_ = false;
  std::optional<double> min_, max_;
  bool min_exclusive_ = false, max_exclusive_ = false;
  std::vector<std::string> choices_;
  StringFormat format_ = StringFormat::kNone;
  std::optional<int64_t> min_items_, max_items_;
};

// Shorthands with the common default.
inline ParamSpec BoolParam(std::string name, bool def) {
  return ParamSpec(std::move(name), ParamType::kBool).default_value(def);
}
inline ParamSpec IntParam(std::string name, int64_t def) {
  return ParamSpec(std::move(name), ParamType::kInt).default_value(def);
}
inline ParamSpec FloatParam(std::string name, double def) {
  return ParamSpec(std::move(name), ParamType::kFloat).default_value(def);
}
inline ParamSpec StringParam(std::string name, std::string def) {
  return ParamSpec(std::move(name), ParamType::kString).default_value(std::move(def));
}
inline ParamSpec ChoiceParam(std::string name, std::string def, std::vector<std::string> allowed) {
  return StringParam(std::move(name), std::move(def)).choices(std::move(allowed));
}
inline ParamSpec IntListParam(std::string name, std::vector<int64_t> def) {
  return ParamSpec(std::move(name), ParamType::kIntList).default_value(std::move(def));
}
inline ParamSpec StringListParam(std::string name, std::vector<std::string> def) {
  return ParamSpec(std::move(name), ParamType::kStringList).default_value(std::move(def));
}
// The conventional "seed" parameter: when a pipeline leaves it out, the host fills in a
// seed derived from [pipeline] seed and the stage name, so every run is reproducible.
inline ParamSpec SeedParam() {
  return ParamSpec("seed", ParamType::kInt)
      .optional()
      .min(0)
      .doc("random seed (default: derived from the pipeline seed and the stage name)");
}
// A required parameter of the given type (no default).
inline ParamSpec RequiredParam(std::string name, ParamType type) { return ParamSpec(std::move(name), type); }

// Whether more or less of a metric is better, for sweeps, early stopping and best-run
// queries ("none": neither, e.g. a row count).
enum class Goal { kNone, kMaximize, kMinimize };
SLUICE_API const char* GoalName(Goal goal);  // "none", "maximize", "minimize"

// A metric a stage logs, stored as "<stage>.<name>". Declare it once, as a constant used
// by both Describe() and Run():
//
//   static inline const sluice::MetricSpec kLoss{"loss", sluice::Goal::kMinimize, "training loss, each step"};
//   ... .metric(kLoss) ...                    ctx.Log(kLoss, step, value);
//
// The host reads the declarations from the contract: `sluice plugins show` lists them and
// `validate` checks a sweep's metric and prune_metric against them.
struct MetricSpec {
  std::string name;
  Goal goal = Goal::kNone;
  std::string doc;
};

// --- Declared once: ports, parameters and metrics as typed constants ----------------
//
// A stage names each port, parameter and metric once, as a constant that carries its C++
// type, and uses the constant in both Describe() and Run(), so the two cannot drift apart
// (as MediaPipe's In<T>/Out<T> do):
//
//   static inline const sluice::In<sluice::TensorDataset> kData{"data", "train and validation splits"};
//   static inline const sluice::Out<sluice::TrainedModel> kModel{"model", "the trained network"};
//   static inline const sluice::Param<int64_t> kEpochs{"epochs"};
//
//   Describe():  .input(kData).output(kModel).param(kEpochs.Default(10).range(1, 100000).doc("..."))
//   Run():       auto data = kData.Get(ctx);  const int64_t epochs = kEpochs.Get(ctx.params());
//                kModel.Set(ctx, std::move(trained));
//
// A port's type is T::kPortType (sluice::ports); a parameter's is T's: bool, int64_t,
// double, std::string, or a std::vector of int64_t, double or std::string. Header-only.

class StageContext;

template <class T>
struct ParamTraits;
template <>
struct ParamTraits<bool> {
  static constexpr ParamType kType = ParamType::kBool;
  static bool Get(const Params& p, std::string_view name) { return p.Bool(name); }
};
template <>
struct ParamTraits<int64_t> {
  static constexpr ParamType kType = ParamType::kInt;
  static int64_t Get(const Params& p, std::string_view name) { return p.Int(name); }
};
template <>
struct ParamTraits<double> {
  static constexpr ParamType kType = ParamType::kFloat;
  static double Get(const Params& p, std::string_view name) { return p.Float(name); }
};
template <>
struct ParamTraits<std::string> {
  static constexpr ParamType kType = ParamType::kString;
  static const std::string& Get(const Params& p, std::string_view name) { return p.String(name); }
};
template <>
struct ParamTraits<std::vector<int64_t>> {
  static constexpr ParamType kType = ParamType::kIntList;
  static const std::vector<int64_t>& Get(const Params& p, std::string_view name) { return p.IntList(name); }
};
template <>
struct ParamTraits<std::vector<double>> {
  static constexpr ParamType kType = ParamType::kFloatList;
  static const std::vector<double>& Get(const Params& p, std::string_view name) { return p.FloatList(name); }
};
template <>
struct ParamTraits<std::vector<std::string>> {
  static constexpr ParamType kType = ParamType::kStringList;
  static const std::vector<std::string>& Get(const Params& p, std::string_view name) { return p.StringList(name); }
};

// A parameter of C++ type T. Default(), Required() and Optional() start its ParamSpec
// (chain range(), choices(), doc() after them); Get() reads it in Run().
template <class T>
class Param {
 public:
  explicit constexpr Param(const char* name) : name_(name) {}
  const char* name() const { return name_; }

  ParamSpec Default(T value) const {
    return ParamSpec(name_, ParamTraits<T>::kType).default_value(Value(std::move(value)));
  }
  ParamSpec Required() const { return ParamSpec(name_, ParamTraits<T>::kType); }
  ParamSpec Optional() const { return Required().optional(); }

  // The value (the default when the pipeline leaves it out). Throws ParamError for an
  // optional parameter left out: check Has() first.
  decltype(auto) Get(const Params& params) const { return ParamTraits<T>::Get(params, name_); }
  bool Has(const Params& params) const { return params.Has(name_); }

 private:
  const char* name_;
};

// An input port carrying T (a PortValue with a static kPortType, e.g. sluice::TensorDataset).
template <class T>
struct In {
  const char* name;
  const char* doc = "";
  bool optional = false;  // may be left unwired: Get() returns null then

  // Defined in sluice/stage.hpp (included by sluice/plugin.hpp).
  std::shared_ptr<T> Get(const StageContext& ctx) const;
};

// An output port carrying T.
template <class T>
struct Out {
  const char* name;
  const char* doc = "";

  void Set(StageContext& ctx, std::shared_ptr<T> value) const;  // sluice/stage.hpp
};

struct PortSpec {
  std::string name;
  std::string type;  // one of sluice::ports, or a plugin-defined type name
  std::string doc;
  bool optional = false;  // inputs only: may be left unwired
};

class SLUICE_API Contract {
 public:
  Contract() = default;
  Contract(std::string name, std::string version, Kind kind)
      : name_(std::move(name)), version_(std::move(version)), kind_(kind) {}

  /// One line shown by `sluice plugins list`.
  Contract& doc(std::string text) {
    doc_ = std::move(text);
    return *this;
  }
  Contract& input(std::string name, std::string type, std::string doc = "");
  Contract& optional_input(std::string name, std::string type, std::string doc = "");
  Contract& output(std::string name, std::string type, std::string doc = "");
  Contract& param(ParamSpec spec);
  Contract& metric(MetricSpec spec);
  template <class T>
  Contract& input(const In<T>& port) {
    return port.optional ? optional_input(port.name, T::kPortType, port.doc) : input(port.name, T::kPortType, port.doc);
  }
  template <class T>
  Contract& output(const Out<T>& port) {
    return output(port.name, T::kPortType, port.doc);
  }

  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  Kind kind() const { return kind_; }
  const std::string& doc() const { return doc_; }
  const std::vector<PortSpec>& inputs() const { return inputs_; }
  const std::vector<PortSpec>& outputs() const { return outputs_; }
  const std::vector<ParamSpec>& params() const { return params_; }
  // Empty for a plugin that declares none (one built before SDK 1.0 declared metrics).
  const std::vector<MetricSpec>& metrics() const { return metrics_; }
  const MetricSpec* FindMetric(std::string_view name) const;
  const ParamSpec* FindParam(std::string_view name) const;
  const PortSpec* FindInput(std::string_view name) const;
  const PortSpec* FindOutput(std::string_view name) const;

  // Mistakes in the contract itself, each naming what is wrong: a parameter or port
  // declared twice, a default of the wrong type or outside its own range, choices or an
  // item count its default breaks, bounds that allow nothing, a name that is not one.
  // Empty when the contract is sound. SLUICE_PLUGIN refuses a contract with problems, so
  // they fail the plugin's build (sluice_add_plugin) rather than surface in a run.
  std::vector<std::string> Problems() const;

  // JSON round trip (the form in SluicePluginInfo::contract and the ELF section).
  std::string ToJson() const;
  // Throws std::runtime_error with a readable message on malformed input.
  static Contract FromJson(std::string_view json);

 private:
  std::string name_, version_;
  Kind kind_ = Kind::kOther;
  std::string doc_;
  std::vector<PortSpec> inputs_, outputs_;
  std::vector<ParamSpec> params_;
  std::vector<MetricSpec> metrics_;
};

}  // namespace sluice

#endif  // SLUICE_CONTRACT_HPP_
