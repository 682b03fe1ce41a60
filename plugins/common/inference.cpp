#include "inference.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>

namespace sluice::inference {

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const double at = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(at));
  const auto hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (at - static_cast<double>(lo));
}

double PeakMemoryMb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

Contract& DeclareMetrics(Contract& contract) {
  return contract.metric(kLatencyP50).metric(kLatencyP95).metric(kThroughput).metric(kPeakMemory);
}

void LogMetrics(StageContext& ctx, const std::vector<double>& batch_ms, int64_t rows) {
  double total_ms = 0;
  for (double ms : batch_ms) total_ms += ms;
  ctx.Log(kLatencyP50, 0, Percentile(batch_ms, 0.5));
  ctx.Log(kLatencyP95, 0, Percentile(batch_ms, 0.95));
  ctx.Log(kThroughput, 0, static_cast<double>(rows) / (total_ms / 1000.0));
  ctx.Log(kPeakMemory, 0, PeakMemoryMb());
}

}  // namespace sluice::inference
