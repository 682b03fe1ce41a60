// What the evaluation stages measure about inference, declared once and computed one way:
// per-batch latency, throughput and peak memory (classification-metrics,
// regression-metrics; the predictor shares the declarations and the memory reading).
#ifndef SLUICE_PLUGINS_COMMON_INFERENCE_HPP_
#define SLUICE_PLUGINS_COMMON_INFERENCE_HPP_

#include <cstdint>
#include <vector>

#include "sluice/contract.hpp"
#include "sluice/stage.hpp"

namespace sluice::inference {

inline const MetricSpec kLatencyP50{"latency_p50_ms", Goal::kMinimize, "median inference time per batch, ms"};
inline const MetricSpec kLatencyP95{"latency_p95_ms", Goal::kMinimize, "95th percentile inference time per batch, ms"};
inline const MetricSpec kThroughput{"inference_samples_per_sec", Goal::kMaximize, "inference throughput"};
inline const MetricSpec kPeakMemory{"peak_memory_mb", Goal::kMinimize, "peak resident memory of the process, MB"};

// The q-quantile of `values`, interpolated linearly between order statistics (numpy's
// default); NaN when there are none.
double Percentile(std::vector<double> values, double q);
// The process's peak resident memory so far, MB.
double PeakMemoryMb();

// Declares the four metrics LogMetrics logs.
Contract& DeclareMetrics(Contract& contract);
// Logs latency p50 and p95 of `batch_ms`, the throughput of `rows` examples over their
// sum, and the peak memory.
void LogMetrics(StageContext& ctx, const std::vector<double>& batch_ms, int64_t rows);

}  // namespace sluice::inference

#endif  // SLUICE_PLUGINS_COMMON_INFERENCE_HPP_
