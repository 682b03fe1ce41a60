// Classification and regression metrics with scikit-learn's definitions (checked against
// sklearn 1.2 to 1e-6 by metrics_test.cpp). No LibTorch: plain vectors in, numbers out.
#ifndef SLUICE_PLUGINS_COMMON_METRICS_HPP_
#define SLUICE_PLUGINS_COMMON_METRICS_HPP_

#include <cstdint>
#include <vector>

namespace sluice::metrics {

struct ClassificationReport {
  double accuracy = 0;
  // Averages over the classes present in the labels or the predictions (as sklearn's
  // default labels=None does); a class with no predicted (or no true) examples has
  // precision (or recall) 0, sklearn's zero_division default.
  double precision_macro = 0, recall_macro = 0, f1_macro = 0;
  double precision_weighted = 0, recall_weighted = 0, f1_weighted = 0;
  // One-vs-rest, macro over classes with both positives and negatives; for two classes
  // the plain AUC of class 1's probability. NaN when undefined (a single class).
  double roc_auc = 0;
  // Average precision (area under the precision-recall curve, sklearn's
  // average_precision_score): of class 1 for two classes, else the macro mean of each
  // class against the rest. NaN when undefined.
  double pr_auc = 0;
  // Mean negative log-likelihood with probabilities clipped to [eps, 1 - eps] and
  // renormalized per row (eps = double epsilon), as sklearn.metrics.log_loss.
  double log_loss = 0;
  // Expected calibration error of the top-label confidence over equal-width bins:
  // sum over bins of (bin size / n) * |accuracy in bin - mean confidence in bin|.
  double calibration_error = 0;
  std::vector<std::vector<int64_t>> confusion;  // [true][pred], num_classes x num_classes
  std::vector<double> precision, recall, f1;    // per class
  std::vector<int64_t> support;                 // true examples per class
};

// `labels[i]` in [0, num_classes); `probs` is row-major n x num_classes. The predicted
// class is the argmax (first on ties).
ClassificationReport Classify(const std::vector<int64_t>& labels, const std::vector<double>& probs, int64_t num_classes,
                              int calibration_bins = 10);

// Area under the ROC curve for binary targets, ties counted half (Mann-Whitney).
double BinaryRocAuc(const std::vector<bool>& positive, const std::vector<double>& score);
// Average precision for binary targets (sklearn's step-wise definition, ties grouped).
double AveragePrecision(const std::vector<bool>& positive, const std::vector<double>& score);

// Points of a ROC curve (false and true positive rates at each distinct threshold, from
// (0, 0) to (1, 1)), for plotting.
struct Curve {
  std::vector<double> x, y;
};
Curve RocCurve(const std::vector<bool>& positive, const std::vector<double>& score);

// Reliability diagram: per bin, mean confidence, accuracy and count.
struct CalibrationBin {
  double confidence = 0, accuracy = 0;
  int64_t count = 0;
};
std::vector<CalibrationBin> CalibrationBins(const std::vector<int64_t>& labels, const std::vector<double>& probs,
                                            int64_t num_classes, int bins);

struct RegressionReport {
  double mse = 0, rmse = 0, mae = 0;
  // 1 - residual sum of squares / total sum of squares; for a constant target, 1 when the
  // predictions are exact and 0 otherwise (sklearn's force_finite).
  double r2 = 0;
};
RegressionReport Regress(const std::vector<double>& targets, const std::vector<double>& predictions);

}  // namespace sluice::metrics

#endif  // SLUICE_PLUGINS_COMMON_METRICS_HPP_
