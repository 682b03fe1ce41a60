// JSON shapes shared by the commands (stdout with --json).
#ifndef SLUICE_HOST_CLI_JSON_OUTPUT_HPP_
#define SLUICE_HOST_CLI_JSON_OUTPUT_HPP_

#include <cmath>
#include <vector>

#include <nlohmann/json.hpp>

#include "run_store.hpp"

namespace sluice::cli {

using json = nlohmann::ordered_json;

// JSON text for stdout. Bytes that are not UTF-8 (a file name in another encoding) are
// written as U+FFFD instead of failing the command.
inline std::string Dump(const json& j, int indent = 2) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

// JSON has no NaN or infinity: those become null.
inline json NumberOrNull(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// {"stage.metric": latest value, ...}
inline json MetricsJson(const std::vector<store::LatestMetric>& metrics) {
  json out = json::object();
  for (const auto& m : metrics) out[m.key] = NumberOrNull(m.value);
  return out;
}

}  // namespace sluice::cli

#endif  // SLUICE_HOST_CLI_JSON_OUTPUT_HPP_
