// Batch order for text: batches of similar lengths, so a batch padded to its longest text
// wastes little. Shared by the trainer and mlm.
#ifndef SLUICE_PLUGINS_TRAINER_BATCHING_HPP_
#define SLUICE_PLUGINS_TRAINER_BATCHING_HPP_

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace sluice::trainer {

// Each run of `bucket` batches of the (already shuffled) `order` is sorted by length and
// cut into batches of `batch`, and the batches are shuffled. Deterministic given `rng`;
// `bucket` <= 1 leaves the order as it is.
inline void BucketByLength(std::vector<int64_t>& order, const std::vector<int64_t>& lengths, int64_t batch,
                           int64_t bucket, std::mt19937_64& rng) {
  if (bucket <= 1) return;
  const auto n = static_cast<int64_t>(order.size());
  const int64_t chunk = batch * bucket;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    std::stable_sort(order.begin() + begin, order.begin() + std::min(n, begin + chunk), [&](int64_t a, int64_t b) {
      return lengths[static_cast<size_t>(a)] < lengths[static_cast<size_t>(b)];
    });
  }
  std::vector<std::vector<int64_t>> batches;
  for (int64_t begin = 0; begin < n; begin += batch) {
    batches.emplace_back(order.begin() + begin, order.begin() + std::min(n, begin + batch));
  }
  std::shuffle(batches.begin(), batches.end(), rng);
  order.clear();
  for (const auto& b : batches) order.insert(order.end(), b.begin(), b.end());
}

}  // namespace sluice::trainer

#endif  // SLUICE_PLUGINS_TRAINER_BATCHING_HPP_
