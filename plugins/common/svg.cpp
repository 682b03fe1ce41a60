#include "svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

namespace sluice::svg {
namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string Tick(double v) {
  char buf[32];
  const double a = std::fabs(v);
  if (a != 0 && (a < 1e-3 || a >= 1e5)) {
    std::snprintf(buf, sizeof buf, "%.1e", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.4g", v);
  }
  return buf;
}

// "Nice" tick spacing for a span, about five ticks.
double TickStep(double span) {
  if (span <= 0) return 1;
  const double raw = span / 5;
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (raw <= m * magnitude) return m * magnitude;
  }
  return 10 * magnitude;
}

// Characters (not bytes) of UTF-8 text.
size_t Utf8Length(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

std::string Header(int width, int height, const std::string& title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
         std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
         "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
         "<text x=\"" +
         std::to_string(width / 2) + "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">" + Escape(title) +
         "</text>\n";
}

}  // namespace

std::string LineChart(const std::vector<Series>& series, const LineChartOptions& o) {
  // The legend goes right of the plot and the image grows to hold it (ten classes' "name
  // (AUC 0.987)" labels ran past a fixed margin): its width from the longest label, at a
  // generous 7.5 px per character of 12 px sans-serif; its height from the count.
  size_t longest = 0;
  for (const Series& s : series) longest = std::max(longest, Utf8Length(s.label));
  const int left = 70, top = 35, bottom = 50, plot_w = 400;
  const int right = series.empty() ? 20 : 38 + static_cast<int>(std::ceil(7.5 * static_cast<double>(longest))) + 12;
  const int width = left + plot_w + right;
  const int height = std::max(420, top + 10 + 18 * static_cast<int>(series.size()) + bottom);
  const int plot_h = height - top - bottom;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const Series& s : series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  }
  if (o.unit_square || !std::isfinite(x0)) {
    x0 = y0 = 0;
    x1 = y1 = 1;
  }
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const double pad = o.unit_square ? 0 : (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * plot_w; };
  auto py = [&](double y) { return top + plot_h - (y - y0) / (y1 - y0) * plot_h; };

  std::string svg = Header(width, height, o.title);
  // Grid and ticks.
  for (double t = std::ceil(x0 / TickStep(x1 - x0)) * TickStep(x1 - x0); t <= x1 + 1e-12; t += TickStep(x1 - x0)) {
    svg += "<line x1=\"" + Num(px(t)) + "\" y1=\"" + Num(top) + "\" x2=\"" + Num(px(t)) + "\" y2=\"" +
           Num(top + plot_h) + "\" stroke=\"#eee\"/>\n<text x=\"" + Num(px(t)) + "\" y=\"" + Num(top + plot_h + 16) +
           "\" text-anchor=\"middle\">" + Tick(t) + "</text>\n";
  }
  for (double t = std::ceil(y0 / TickStep(y1 - y0)) * TickStep(y1 - y0); t <= y1 + 1e-12; t += TickStep(y1 - y0)) {
    svg += "<line x1=\"" + Num(left) + "\" y1=\"" + Num(py(t)) + "\" x2=\"" + Num(left + plot_w) + "\" y2=\"" +
           Num(py(t)) + "\" stroke=\"#eee\"/>\n<text x=\"" + Num(left - 6) + "\" y=\"" + Num(py(t) + 4) +
           "\" text-anchor=\"end\">" + Tick(t) + "</text>\n";
  }
  svg += "<rect x=\"" + std::to_string(left) + "\" y=\"" + std::to_string(top) + "\" width=\"" +
         std::to_string(plot_w) + "\" height=\"" + std::to_string(plot_h) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  if (o.unit_square || o.diagonal) {
    const double lo = std::max(x0, y0), hi = std::min(x1, y1);
    svg += "<line x1=\"" + Num(px(lo)) + "\" y1=\"" + Num(py(lo)) + "\" x2=\"" + Num(px(hi)) + "\" y2=\"" +
           Num(py(hi)) + "\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n";
  }
  svg += "<text x=\"" + Num(left + plot_w / 2.0) + "\" y=\"" + Num(height - 12) + "\" text-anchor=\"middle\">" +
         Escape(o.x_label) + "</text>\n<text transform=\"translate(16," + Num(top + plot_h / 2.0) +
         ") rotate(-90)\" text-anchor=\"middle\">" + Escape(o.y_label) + "</text>\n";
  // Series and legend.
  for (size_t s = 0; s < series.size(); ++s) {
    const char* colour = kPalette[s % (sizeof kPalette / sizeof kPalette[0])];
    std::string points;
    for (size_t i = 0; i < series[s].x.size() && i < series[s].y.size(); ++i) {
      if (!std::isfinite(series[s].x[i]) || !std::isfinite(series[s].y[i])) continue;
      points += Num(px(series[s].x[i])) + "," + Num(py(series[s].y[i])) + " ";
      if (o.markers || !o.lines) {
        svg += "<circle cx=\"" + Num(px(series[s].x[i])) + "\" cy=\"" + Num(py(series[s].y[i])) + "\" r=\"" +
               (o.lines ? "3" : "2") + "\" fill=\"" + colour + "\"" + (o.lines ? "" : " fill-opacity=\"0.5\"") + "/>\n";
      }
    }
    if (o.lines)
      svg += std::string("<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"") + colour + "\"" +
             (series[s].dashed ? " stroke-dasharray=\"6 3\"" : "") + " points=\"" + points + "\"/>\n";
    const double ly = top + 10 + 18.0 * static_cast<double>(s);
    svg += std::string("<line x1=\"") + Num(left + plot_w + 12) + "\" y1=\"" + Num(ly) + "\" x2=\"" +
           Num(left + plot_w + 32) + "\" y2=\"" + Num(ly) + "\" stroke=\"" + colour + "\" stroke-width=\"2\"" +
           (series[s].dashed ? " stroke-dasharray=\"6 3\"" : "") + "/>\n<text x=\"" + Num(left + plot_w + 38) +
           "\" y=\"" + Num(ly + 4) + "\">" + Escape(series[s].label) + "</text>\n";
  }
  return svg + "</svg>\n";
}

std::string Heatmap(const std::vector<std::vector<int64_t>>& counts, const std::vector<std::string>& labels,
                    const std::string& title) {
  const int n = static_cast<int>(counts.size());
  const int cell = n <= 10 ? 44 : std::max(14, 440 / std::max(n, 1));
  const int left = 140, top = 60;
  const int width = left + n * cell + 30, height = top + n * cell + 130;
  int64_t peak = 1;
  for (const auto& row : counts) {
    for (int64_t c : row) peak = std::max(peak, c);
  }
  std::string svg = Header(width, height, title);
  for (int t = 0; t < n; ++t) {
    const std::string name = t < static_cast<int>(labels.size()) ? labels[static_cast<size_t>(t)] : std::to_string(t);
    svg += "<text x=\"" + std::to_string(left - 6) + "\" y=\"" + std::to_string(top + t * cell + cell / 2 + 4) +
           "\" text-anchor=\"end\">" + Escape(name) + "</text>\n";
    svg += "<text transform=\"translate(" + std::to_string(left + t * cell + cell / 2 + 4) + "," +
           std::to_string(top + n * cell + 8) + ") rotate(60)\">" + Escape(name) + "</text>\n";
    for (int p = 0; p < n; ++p) {
      const int64_t c = counts[static_cast<size_t>(t)][static_cast<size_t>(p)];
      const double share = static_cast<double>(c) / static_cast<double>(peak);
      const int shade = static_cast<int>(255 - 200 * share);
      char fill[16];
      std::snprintf(fill, sizeof fill, "#%02x%02xff", shade, shade);
      svg += "<rect x=\"" + std::to_string(left + p * cell) + "\" y=\"" + std::to_string(top + t * cell) +
             "\" width=\"" + std::to_string(cell) + "\" height=\"" + std::to_string(cell) + "\" fill=\"" + fill +
             "\" stroke=\"white\"/>\n";
      if (cell >= 28) {
        svg += "<text x=\"" + std::to_string(left + p * cell + cell / 2) + "\" y=\"" +
               std::to_string(top + t * cell + cell / 2 + 4) + "\" text-anchor=\"middle\" font-size=\"11\"" +
               (share > 0.6 ? " fill=\"white\"" : "") + ">" + std::to_string(c) + "</text>\n";
      }
    }
  }
  svg += "<text x=\"" + std::to_string(left + n * cell / 2) + "\" y=\"" + std::to_string(top - 8) +
         "\" text-anchor=\"middle\">predicted</text>\n<text transform=\"translate(14," +
         std::to_string(top + n * cell / 2) + ") rotate(-90)\" text-anchor=\"middle\">true</text>\n";
  return svg + "</svg>\n";
}

bool WriteFile(const std::string& path, const std::string& svg) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << svg;
  return static_cast<bool>(out);
}

}  // namespace sluice::svg
