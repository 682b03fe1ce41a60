// What `sluice serve` counts, in Prometheus' text format (GET /metrics): requests by
// model, route and status, request latency and batch size histograms, queue depth, the
// version each model serves.
#ifndef SLUICE_HOST_SERVE_METRICS_HPP_
#define SLUICE_HOST_SERVE_METRICS_HPP_

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace sluice::serve {

class Metrics {
 public:
  void Request(const std::string& model, const std::string& route, int status, double seconds);
  void Batch(const std::string& model, int64_t rows, double seconds);
  void QueueDepth(const std::string& model, int64_t rows);
  void Version(const std::string& model, const std::string& reference, int64_t version);
  void Switched(const std::string& model);
  void LoadFailed(const std::string& model);

  std::string Render(int64_t connections, int64_t in_flight) const;

 private:
  static constexpr std::array<double, 14> kLatencyBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  static constexpr std::array<double, 11> kBatchBuckets{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  template <size_t N>
  struct Histogram {
    std::array<uint64_t, N> counts{};
    uint64_t count = 0;
    double sum = 0;
  };
  struct PerModel {
    Histogram<kLatencyBuckets.size()> latency;
    Histogram<kBatchBuckets.size()> batch;
    double inference_seconds = 0;
    int64_t queue_rows = 0;
    int64_t version = 0;
    std::string reference;
    uint64_t switches = 0, load_failures = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::string, PerModel> models_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
};

}  // namespace sluice::serve

#endif  // SLUICE_HOST_SERVE_METRICS_HPP_
