#include "metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace sluice::metrics {

double BinaryRocAuc(const std::vector<bool>& positive, const std::vector<double>& score) {
  const size_t n = score.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
  double positive_rank_sum = 0;
  int64_t n_pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && score[order[j]] == score[order[i]]) ++j;
    const double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;  // 1-based
    for (size_t k = i; k < j; ++k) {
      if (positive[order[k]]) {
        positive_rank_sum += average_rank;
        ++n_pos;
      }
    }
    i = j;
  }
  const int64_t n_neg = static_cast<int64_t>(n) - n_pos;
  if (n_pos == 0 || n_neg == 0) return std::numeric_limits<double>::quiet_NaN();
  const double u = positive_rank_sum - static_cast<double>(n_pos) * static_cast<double>(n_pos + 1) / 2.0;
  return u / (static_cast<double>(n_pos) * static_cast<double>(n_neg));
}

ClassificationReport Classify(const std::vector<int64_t>& labels, const std::vector<double>& probs,
                              int64_t num_classes) {
  const size_t n = labels.size();
  const auto k = static_cast<size_t>(num_classes);
  if (n == 0 || num_classes < 1 || probs.size() != n * k) {
    throw std::invalid_argument("metrics need n > 0 labels and n x num_classes probabilities");
  }
  ClassificationReport r;
  r.confusion.assign(k, std::vector<int64_t>(k, 0));
  std::vector<int64_t> predicted(n);
  int64_t correct = 0;
  for (size_t i = 0; i < n; ++i) {
    const double* row = &probs[i * k];
    const auto pred = static_cast<int64_t>(std::max_element(row, row + k) - row);
    predicted[i] = pred;
    if (labels[i] < 0 || labels[i] >= num_classes) throw std::invalid_argument("label out of range");
    ++r.confusion[static_cast<size_t>(labels[i])][static_cast<size_t>(pred)];
    correct += pred == labels[i];
  }
  r.accuracy = static_cast<double>(correct) / static_cast<double>(n);

  r.precision.assign(k, 0);
  r.recall.assign(k, 0);
  r.f1.assign(k, 0);
  r.support.assign(k, 0);
  int64_t present = 0;
  for (size_t c = 0; c < k; ++c) {
    int64_t tp = r.confusion[c][c], fp = 0, fn = 0;
    for (size_t o = 0; o < k; ++o) {
      if (o == c) continue;
      fp += r.confusion[o][c];
      fn += r.confusion[c][o];
    }
    r.support[c] = tp + fn;
    r.precision[c] = tp + fp > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0.0;
    r.recall[c] = tp + fn > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fn) : 0.0;
    r.f1[c] = 2 * tp + fp + fn > 0 ? 2.0 * static_cast<double>(tp) / static_cast<double>(2 * tp + fp + fn) : 0.0;
    if (tp + fp + fn == 0) continue;  // in neither labels nor predictions: not averaged
    ++present;
    r.precision_macro += r.precision[c];
    r.recall_macro += r.recall[c];
    r.f1_macro += r.f1[c];
    const double w = static_cast<double>(r.support[c]) / static_cast<double>(n);
    r.precision_weighted += w * r.precision[c];
    r.recall_weighted += w * r.recall[c];
    r.f1_weighted += w * r.f1[c];
  }
  r.precision_macro /= static_cast<double>(present);
  r.recall_macro /= static_cast<double>(present);
  r.f1_macro /= static_cast<double>(present);

  // ROC AUC.
  if (k == 2) {
    std::vector<bool> pos(n);
    std::vector<double> score(n);
    for (size_t i = 0; i < n; ++i) {
      pos[i] = labels[i] == 1;
      score[i] = probs[i * k + 1];
    }
    r.roc_auc = BinaryRocAuc(pos, score);
  } else {
    double sum = 0;
    int64_t classes = 0;
    std::vector<bool> pos(n);
    std::vector<double> score(n);
    for (size_t c = 0; c < k; ++c) {
      for (size_t i = 0; i < n; ++i) {
        pos[i] = labels[i] == static_cast<int64_t>(c);
        score[i] = probs[i * k + c];
      }
      const double auc = BinaryRocAuc(pos, score);
      if (std::isnan(auc)) continue;
      sum += auc;
      ++classes;
    }
    r.roc_auc = classes > 0 ? sum / static_cast<double>(classes) : std::numeric_limits<double>::quiet_NaN();
  }

  // Log loss.
  const double eps = std::numeric_limits<double>::epsilon();
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    double row_sum = 0;
    for (size_t c = 0; c < k; ++c) row_sum += std::clamp(probs[i * k + c], eps, 1 - eps);
    const double p = std::clamp(probs[i * k + static_cast<size_t>(labels[i])], eps, 1 - eps) / row_sum;
    total -= std::log(p);
  }
  r.log_loss = total / static_cast<double>(n);
  return r;
}

}  // namespace sluice::metrics
