#include "table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sluice::cli {

namespace {
// Display width of UTF-8 text (counts code points, not bytes).
size_t Width(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}
}  // namespace

std::string Table::Render() const {
  std::vector<size_t> widths(header_.size(), 0);
  const bool with_header = std::any_of(header_.begin(), header_.end(), [](const std::string& h) { return !h.empty(); });
  auto measure = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], Width(cells[i]));
  };
  if (with_header) measure(header_);
  for (const auto& row : rows_) measure(row);
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text = indent_;
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      text += cell;
      if (i + 1 < widths.size()) text += std::string(widths[i] - Width(cell) + 2, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text + "\n";
  };
  if (with_header) line(header_);
  for (const auto& row : rows_) line(row);
  return out;
}

std::string HumanNumber(double value) {
  if (std::isnan(value)) return "nan";
  char buf[32];
  if (value == std::floor(value) && std::fabs(value) < 1e12) {
    std::snprintf(buf, sizeof buf, "%.0f", value);
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", value);
  }
  return buf;
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace sluice::cli
