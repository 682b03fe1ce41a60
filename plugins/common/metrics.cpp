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

namespace {

// Scores sorted high to low, grouped by distinct value: for each group, the cumulative
// true and false positives after it.
struct Threshold {
  double tp, fp;
};
std::vector<Threshold> Thresholds(const std::vector<bool>& positive, const std::vector<double>& score) {
  std::vector<size_t> order(score.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  std::vector<Threshold> out;
  double tp = 0, fp = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && score[order[j]] == score[order[i]]) {
      (positive[order[j]] ? tp : fp) += 1;
      ++j;
    }
    out.push_back({tp, fp});
    i = j;
  }
  return out;
}

}  // namespace

double AveragePrecision(const std::vector<bool>& positive, const std::vector<double>& score) {
  const std::vector<Threshold> t = Thresholds(positive, score);
  const double n_pos = t.empty() ? 0 : t.back().tp;
  if (n_pos == 0) return std::numeric_limits<double>::quiet_NaN();
  double ap = 0, previous_recall = 0;
  for (const Threshold& th : t) {
    const double recall = th.tp / n_pos;
    const double precision = th.tp / (th.tp + th.fp);
    ap += (recall - previous_recall) * precision;
    previous_recall = recall;
  }
  return ap;
}

Curve RocCurve(const std::vector<bool>& positive, const std::vector<double>& score) {
  const std::vector<Threshold> t = Thresholds(positive, score);
  Curve c;
  c.x.push_back(0);
  c.y.push_back(0);
  if (t.empty()) return c;
  const double n_pos = t.back().tp, n_neg = t.back().fp;
  for (const Threshold& th : t) {
    c.x.push_back(n_neg > 0 ? th.fp / n_neg : 0);
    c.y.push_back(n_pos > 0 ? th.tp / n_pos : 0);
  }
  return c;
}

std::vector<CalibrationBin> CalibrationBins(const std::vector<int64_t>& labels, const std::vector<double>& probs,
                                            int64_t num_classes, int bins) {
  std::vector<CalibrationBin> out(static_cast<size_t>(bins));
  const auto k = static_cast<size_t>(num_classes);
  for (size_t i = 0; i < labels.size(); ++i) {
    const double* row = &probs[i * k];
    const auto pred = static_cast<int64_t>(std::max_element(row, row + k) - row);
    const double confidence = row[pred];
    // Bin b holds confidences in (b/B, (b+1)/B]; 0 falls in the first.
    auto b = static_cast<int>(std::ceil(confidence * bins)) - 1;
    b = std::clamp(b, 0, bins - 1);
    CalibrationBin& bin = out[static_cast<size_t>(b)];
    bin.confidence += confidence;
    bin.accuracy += pred == labels[i] ? 1.0 : 0.0;
    ++bin.count;
  }
  for (CalibrationBin& bin : out) {
    if (bin.count == 0) continue;
    bin.confidence /= static_cast<double>(bin.count);
    bin.accuracy /= static_cast<double>(bin.count);
  }
  return out;
}

RegressionReport Regress(const std::vector<double>& targets, const std::vector<double>& predictions) {
  if (targets.empty() || targets.size() != predictions.size()) {
    throw std::invalid_argument("regression metrics need as many predictions as targets, and at least one");
  }
  const auto n = static_cast<double>(targets.size());
  double mean = 0;
  for (double y : targets) mean += y;
  mean /= n;
  double ss_res = 0, ss_tot = 0, abs_sum = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    const double e = targets[i] - predictions[i];
    ss_res += e * e;
    abs_sum += std::fabs(e);
    ss_tot += (targets[i] - mean) * (targets[i] - mean);
  }
  RegressionReport r;
  r.mse = ss_res / n;
  r.rmse = std::sqrt(r.mse);
  r.mae = abs_sum / n;
  r.r2 = ss_tot > 0 ? 1.0 - ss_res / ss_tot : (ss_res == 0 ? 1.0 : 0.0);
  return r;
}

ClassificationReport Classify(const std::vector<int64_t>& labels, const std::vector<double>& probs, int64_t num_classes,
                              int calibration_bins) {
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
    r.pr_auc = AveragePrecision(pos, score);
  } else {
    double sum = 0, ap_sum = 0;
    int64_t classes = 0, ap_classes = 0;
    std::vector<bool> pos(n);
    std::vector<double> score(n);
    for (size_t c = 0; c < k; ++c) {
      for (size_t i = 0; i < n; ++i) {
        pos[i] = labels[i] == static_cast<int64_t>(c);
        score[i] = probs[i * k + c];
      }
      const double ap = AveragePrecision(pos, score);
      if (!std::isnan(ap)) {
        ap_sum += ap;
        ++ap_classes;
      }
      const double auc = BinaryRocAuc(pos, score);
      if (std::isnan(auc)) continue;
      sum += auc;
      ++classes;
    }
    const double nan = std::numeric_limits<double>::quiet_NaN();
    r.roc_auc = classes > 0 ? sum / static_cast<double>(classes) : nan;
    r.pr_auc = ap_classes > 0 ? ap_sum / static_cast<double>(ap_classes) : nan;
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

  double ece = 0;
  for (const CalibrationBin& bin : CalibrationBins(labels, probs, num_classes, calibration_bins)) {
    ece += static_cast<double>(bin.count) / static_cast<double>(n) * std::fabs(bin.accuracy - bin.confidence);
  }
  r.calibration_error = ece;
  return r;
}

}  // namespace sluice::metrics
