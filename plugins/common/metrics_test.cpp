// The metrics equal scikit-learn's on the cases in testdata/metrics_golden.json, produced
// by testdata/make_metrics_golden.py with Debian's python3-sklearn 1.2.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "metrics.hpp"
#include "svg.hpp"

namespace sluice::metrics {
namespace {

constexpr double kTolerance = 1e-6;

nlohmann::json Golden() {
  std::ifstream in(SLUICE_METRICS_GOLDEN);
  return nlohmann::json::parse(in);
}

TEST(ClassificationMetricsTest, EqualScikitLearnOnGoldenCases) {
  const nlohmann::json golden = Golden();
  ASSERT_GE(golden["cases"].size(), 4u);
  for (const auto& c : golden["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto labels = c["labels"].get<std::vector<int64_t>>();
    const auto probs = c["probs"].get<std::vector<double>>();
    const ClassificationReport r = Classify(labels, probs, c["num_classes"].get<int64_t>());
    EXPECT_NEAR(r.accuracy, c["accuracy"].get<double>(), kTolerance);
    EXPECT_NEAR(r.precision_macro, c["precision_macro"].get<double>(), kTolerance);
    EXPECT_NEAR(r.recall_macro, c["recall_macro"].get<double>(), kTolerance);
    EXPECT_NEAR(r.f1_macro, c["f1_macro"].get<double>(), kTolerance);
    EXPECT_NEAR(r.precision_weighted, c["precision_weighted"].get<double>(), kTolerance);
    EXPECT_NEAR(r.recall_weighted, c["recall_weighted"].get<double>(), kTolerance);
    EXPECT_NEAR(r.f1_weighted, c["f1_weighted"].get<double>(), kTolerance);
    EXPECT_NEAR(r.roc_auc, c["roc_auc"].get<double>(), kTolerance);
    EXPECT_NEAR(r.log_loss, c["log_loss"].get<double>(), kTolerance);
    EXPECT_NEAR(r.pr_auc, c["pr_auc"].get<double>(), kTolerance);
    EXPECT_NEAR(r.calibration_error, c["calibration_error"].get<double>(), kTolerance);
    EXPECT_EQ(r.confusion, c["confusion"].get<std::vector<std::vector<int64_t>>>());
  }
}

TEST(RegressionMetricsTest, EqualScikitLearnOnGoldenCases) {
  const nlohmann::json golden = Golden();
  ASSERT_GE(golden["regression"].size(), 3u);
  for (const auto& c : golden["regression"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const RegressionReport r =
        Regress(c["targets"].get<std::vector<double>>(), c["predictions"].get<std::vector<double>>());
    EXPECT_NEAR(r.mse, c["mse"].get<double>(), kTolerance);
    EXPECT_NEAR(r.rmse, c["rmse"].get<double>(), kTolerance);
    EXPECT_NEAR(r.mae, c["mae"].get<double>(), kTolerance);
    EXPECT_NEAR(r.r2, c["r2"].get<double>(), kTolerance);
  }
}

TEST(ClassificationMetricsTest, RocCurveRunsFromOriginToOne) {
  Curve c = RocCurve({true, false, true, false}, {0.9, 0.8, 0.4, 0.1});
  EXPECT_EQ(c.x, (std::vector<double>{0, 0, 0.5, 0.5, 1}));
  EXPECT_EQ(c.y, (std::vector<double>{0, 0.5, 0.5, 1, 1}));
}

TEST(ClassificationMetricsTest, BinaryAucCountsTiesAsHalf) {
  // One positive tied with one negative, one positive above all: (1 + 0.5) / 2.
  EXPECT_DOUBLE_EQ(BinaryRocAuc({true, false, true, false}, {0.5, 0.5, 0.9, 0.1}), 0.875);
  EXPECT_TRUE(std::isnan(BinaryRocAuc({true, true}, {0.1, 0.2})));
}

TEST(ClassificationMetricsTest, PerfectPredictionsScoreOne) {
  const ClassificationReport r = Classify({0, 1, 2}, {1, 0, 0, 0, 1, 0, 0, 0, 1}, 3);
  EXPECT_DOUBLE_EQ(r.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(r.f1_macro, 1.0);
  EXPECT_DOUBLE_EQ(r.roc_auc, 1.0);
  EXPECT_NEAR(r.log_loss, 0.0, 1e-12);
}

TEST(ClassificationMetricsTest, RejectsMismatchedShapes) {
  EXPECT_THROW(Classify({0, 1}, {0.5, 0.5}, 2), std::invalid_argument);
  EXPECT_THROW(Classify({0, 3}, {0.5, 0.5, 0.5, 0.5}, 2), std::invalid_argument);
}

}  // namespace
}  // namespace sluice::metrics

namespace sluice::svg {
namespace {

// Ten classes' ROC legend ("name (AUC 0.987)") inside the image: each legend label's right
// end, at 7.5 px per character of 12 px sans-serif (wider than DejaVu Sans' average), is
// left of the image's right edge. A fixed 170 px margin cut "T-shirt/top (AUC 0.987)" off.
TEST(SvgTest, ALegendOfTenLongLabelsFitsInsideTheImage) {
  std::vector<Series> series;
  for (const char* name : {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                           "a class name of 24 chars"}) {
    series.push_back({std::string(name) + " (AUC 0.987)", {0, 0.5, 1}, {0, 0.8, 1}, false});
  }
  const std::string svg =
      LineChart(series, {"ROC curves (one vs rest)", "false positive rate", "true positive rate", true, false});
  const double width = std::stod(svg.substr(svg.find("width=\"") + 7));
  size_t found = 0;
  for (const Series& s : series) {
    const size_t at = svg.find(">" + s.label + "</text>");
    ASSERT_NE(at, std::string::npos) << s.label;
    const size_t x = svg.rfind("x=\"", at);
    const double right = std::stod(svg.substr(x + 3)) + 7.5 * static_cast<double>(s.label.size());
    EXPECT_LE(right, width) << s.label << " ends at " << right << " in an image " << width << " wide";
    ++found;
  }
  EXPECT_EQ(found, 10u);
}

}  // namespace
}  // namespace sluice::svg
