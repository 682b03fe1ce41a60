#include "serve/metrics.hpp"

#include <cstdio>

namespace sluice::serve {

namespace {

std::string Escaped(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Number(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", value);
  return buf;
}

template <typename H, typename B>
void Observe(H& histogram, const B& buckets, double value) {
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (value <= buckets[i]) ++histogram.counts[i];
  }
  ++histogram.count;
  histogram.sum += value;
}

template <typename H, typename B>
void RenderHistogram(std::string& out, const char* name, const std::string& labels, const H& histogram,
                     const B& buckets) {
  for (size_t i = 0; i < buckets.size(); ++i) {
    out += std::string(name) + "_bucket{" + labels + ",le=\"" + Number(buckets[i]) + "\"} " +
           std::to_string(histogram.counts[i]) + "\n";
  }
  out += std::string(name) + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(histogram.count) + "\n";
  out += std::string(name) + "_sum{" + labels + "} " + Number(histogram.sum) + "\n";
  out += std::string(name) + "_count{" + labels + "} " + std::to_string(histogram.count) + "\n";
}

}  // namespace

void Metrics::Request(const std::string& model, const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{model, route, status}];
  if (!model.empty()) Observe(models_[model].latency, kLatencyBuckets, seconds);
}

void Metrics::Batch(const std::string& model, int64_t rows, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  PerModel& m = models_[model];
  Observe(m.batch, kBatchBuckets, static_cast<double>(rows));
  m.inference_seconds += seconds;
}

void Metrics::QueueDepth(const std::string& model, int64_t rows) {
  std::lock_guard<std::mutex> lock(mutex_);
  models_[model].queue_rows = rows;
}

void Metrics::Version(const std::string& model, const std::string& reference, int64_t version) {
  std::lock_guard<std::mutex> lock(mutex_);
  models_[model].version = version;
  models_[model].reference = reference;
}

void Metrics::Switched(const std::string& model) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++models_[model].switches;
}

void Metrics::LoadFailed(const std::string& model) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++models_[model].load_failures;
}

std::string Metrics::Render(int64_t connections, int64_t in_flight) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  out += "# HELP sluice_requests_total HTTP requests answered, by model, route and status.\n";
  out += "# TYPE sluice_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    const auto& [model, route, status] = key;
    out += "sluice_requests_total{model=\"" + Escaped(model) + "\",route=\"" + Escaped(route) + "\",code=\"" +
           std::to_string(status) + "\"} " + std::to_string(count) + "\n";
  }
  out += "# HELP sluice_request_duration_seconds Time from a request's arrival to its answer, by model.\n";
  out += "# TYPE sluice_request_duration_seconds histogram\n";
  for (const auto& [model, m] : models_) {
    RenderHistogram(out, "sluice_request_duration_seconds", "model=\"" + Escaped(model) + "\"", m.latency,
                    kLatencyBuckets);
  }
  out += "# HELP sluice_batch_rows Rows per forward pass, by model.\n";
  out += "# TYPE sluice_batch_rows histogram\n";
  for (const auto& [model, m] : models_) {
    RenderHistogram(out, "sluice_batch_rows", "model=\"" + Escaped(model) + "\"", m.batch, kBatchBuckets);
  }
  out += "# HELP sluice_inference_seconds_total Time spent in forward passes, by model.\n";
  out += "# TYPE sluice_inference_seconds_total counter\n";
  for (const auto& [model, m] : models_) {
    out += "sluice_inference_seconds_total{model=\"" + Escaped(model) + "\"} " + Number(m.inference_seconds) + "\n";
  }
  out += "# HELP sluice_queue_rows Rows waiting for a forward pass, by model.\n";
  out += "# TYPE sluice_queue_rows gauge\n";
  for (const auto& [model, m] : models_) {
    out += "sluice_queue_rows{model=\"" + Escaped(model) + "\"} " + std::to_string(m.queue_rows) + "\n";
  }
  out += "# HELP sluice_model_version The registered version each model serves.\n";
  out += "# TYPE sluice_model_version gauge\n";
  for (const auto& [model, m] : models_) {
    out += "sluice_model_version{model=\"" + Escaped(model) + "\",reference=\"" + Escaped(m.reference) + "\"} " +
           std::to_string(m.version) + "\n";
  }
  out += "# HELP sluice_model_switches_total Versions switched to after an alias moved, by model.\n";
  out += "# TYPE sluice_model_switches_total counter\n";
  for (const auto& [model, m] : models_) {
    out += "sluice_model_switches_total{model=\"" + Escaped(model) + "\"} " + std::to_string(m.switches) + "\n";
  }
  out += "# HELP sluice_model_load_failures_total New versions that could not be loaded, by model.\n";
  out += "# TYPE sluice_model_load_failures_total counter\n";
  for (const auto& [model, m] : models_) {
    out +=
        "sluice_model_load_failures_total{model=\"" + Escaped(model) + "\"} " + std::to_string(m.load_failures) + "\n";
  }
  out += "# HELP sluice_connections Open HTTP connections.\n# TYPE sluice_connections gauge\n";
  out += "sluice_connections " + std::to_string(connections) + "\n";
  out += "# HELP sluice_requests_in_flight Requests read and not yet answered.\n";
  out += "# TYPE sluice_requests_in_flight gauge\n";
  out += "sluice_requests_in_flight " + std::to_string(in_flight) + "\n";
  return out;
}

}  // namespace sluice::serve
