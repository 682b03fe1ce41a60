// A pipeline file as written: names, raw values and where each came from. Produced by
// ParsePipeline (TOML syntax and shape), consumed by Validate (meaning).
#ifndef SLUICE_HOST_PIPELINE_SPEC_HPP_
#define SLUICE_HOST_PIPELINE_SPEC_HPP_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"

namespace sluice::pipeline {

// A TOML value before it is checked against a parameter's declared type.
struct RawValue {
  enum class Type { kBool, kInt, kFloat, kString, kArray, kTable, kOther };
  Type type = Type::kOther;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<RawValue> items;  // kArray
  SourceLoc loc;
  std::string text;  // the value as TOML text, for messages
  // A --set value written without quotes, as typed: a string parameter takes it as
  // is, so a run-id prefix like 8932e5 is not read as the number 8.932e8.
  std::string bare;
};
const char* RawTypeName(RawValue::Type type);  // "a string", "an integer", ...

struct InputSpec {
  std::string port;
  SourceLoc port_loc;
  std::string source;  // "stage" or "stage.port"
  SourceLoc source_loc;
};

struct ParamEntry {
  std::string name;
  SourceLoc name_loc;
  RawValue value;
};

struct StageSpec {
  std::string name;
  SourceLoc name_loc;  // the stage's key in its [stages.NAME] header
  std::string plugin;  // empty when missing
  SourceLoc plugin_loc;
  std::vector<InputSpec> inputs;
  std::vector<ParamEntry> params;  // in file order; overrides replace or append
};

// One entry of [sweep.space]: "stage.param" = { uniform = [lo, hi] } (or log_uniform,
// int, choice), with an optional step.
struct SpaceEntry {
  std::string key;  // "stage.param"
  SourceLoc key_loc;
  std::string kind;              // uniform | log_uniform | int | choice
  SourceLoc loc;                 // the inline table
  std::vector<RawValue> values;  // the bounds, or the choices
  std::optional<RawValue> step;
};

// The [sweep] table as written; checked by sweep::ResolveSweep.
struct SweepSpec {
  bool present = false;
  SourceLoc loc;
  std::map<std::string, RawValue> options;  // metric, direction, sampler, trials, ...
  std::map<std::string, SourceLoc> option_keys;
  std::vector<SpaceEntry> space;
  SourceLoc space_loc;
};

struct PipelineSpec {
  std::string file;  // as given on the command line
  std::string name;
  SourceLoc name_loc;
  int64_t seed = 0;
  SourceLoc seed_loc;
  int64_t threads = 0;  // 0: one per core
  std::string description;
  std::vector<StageSpec> stages;  // in file order
  SweepSpec sweep;

  StageSpec* FindStage(const std::string& name);
  const StageSpec* FindStage(const std::string& name) const;
};

// Parses TOML text into a spec. Syntax errors and shape errors (a stage that is not a
// table, a missing `plugin`, an unknown [pipeline] key...) go to `diag`; the returned
// spec holds whatever could be read. `text` is also registered in `texts`.
PipelineSpec ParsePipeline(const std::string& file, const std::string& text, SourceTexts& texts, Diagnostics& diag);

// Reads the file and parses it; a missing or unreadable file is a diagnostic.
PipelineSpec ParsePipelineFile(const std::string& file, SourceTexts& texts, Diagnostics& diag);

// Applies `--set KEY=VALUE` overrides in order. KEY is "stage.param", "stage.plugin" or
// "pipeline.name|seed|threads"; VALUE is parsed as TOML, and taken as a plain string
// when it is not valid TOML (so --set train.device=cuda:0 works). Problems are reported
// against the pseudo-file "--set", one line per override.
void ApplyOverrides(PipelineSpec& spec, const std::vector<std::string>& overrides, SourceTexts& texts,
                    Diagnostics& diag);

}  // namespace sluice::pipeline

#endif  // SLUICE_HOST_PIPELINE_SPEC_HPP_
