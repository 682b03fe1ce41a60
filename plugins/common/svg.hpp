// Small SVG charts for run artifacts (learning curves, ROC curves, confusion matrices,
// reliability diagrams), so a person can look instead of read. No dependencies.
#ifndef SLUICE_PLUGINS_COMMON_SVG_HPP_
#define SLUICE_PLUGINS_COMMON_SVG_HPP_

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::svg {

struct Series {
  std::string label;
  std::vector<double> x, y;
  bool dashed = false;
};

struct LineChartOptions {
  std::string title, x_label, y_label;
  bool unit_square = false;  // axes fixed to [0, 1] with the diagonal drawn (ROC, reliability)
  bool markers = false;      // a dot on each point
  bool lines = true;         // false: a scatter plot
  bool diagonal = false;     // draw y = x (predicted against actual)
};

// Lines over a shared pair of axes, with a legend.
std::string LineChart(const std::vector<Series>& series, const LineChartOptions& options);

// A matrix of counts as a heat map with the numbers written in; rows are true classes.
std::string Heatmap(const std::vector<std::vector<int64_t>>& counts, const std::vector<std::string>& labels,
                    const std::string& title);

// Writes `svg` to `path`; false on failure.
bool WriteFile(const std::string& path, const std::string& svg);

}  // namespace sluice::svg

#endif  // SLUICE_PLUGINS_COMMON_SVG_HPP_
