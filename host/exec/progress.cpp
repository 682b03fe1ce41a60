#include "progress.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>

namespace sluice::exec {
namespace {

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string Figure(double v) {
  char buf[32];
  const double a = std::fabs(v);
  if (a >= 1000) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (a >= 10) {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.4f", v);
  }
  return buf;
}

}  // namespace

std::string FormatSeconds(double seconds) {
  char buf[32];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else if (seconds < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(seconds) / 3600, static_cast<int>(seconds) % 3600 / 60);
  }
  return buf;
}

ProgressView::Mode ProgressView::DetectMode(std::FILE* stream) {
  return isatty(fileno(stream)) ? Mode::kBar : Mode::kLines;
}

void ProgressView::ClearBar() {
  if (!bar_visible_) return;
  std::fputs("\r\033[K", out_);
  bar_visible_ = false;
}

void ProgressView::Message(const std::string& text) {
  if (mode_ == Mode::kMessages) {
    std::fprintf(out_, "%s\n", text.c_str());
    std::fflush(out_);
    return;
  }
  Line(text);
}

void ProgressView::Line(const std::string& text) {
  if (mode_ == Mode::kQuiet || mode_ == Mode::kMessages) return;
  ClearBar();
  std::fprintf(out_, "%s\n", text.c_str());
  std::fflush(out_);
}

void ProgressView::Update(const std::string& stage, const Progress& p) {
  if (mode_ == Mode::kQuiet || mode_ == Mode::kMessages) return;
  const double now = Now();
  if (p.phase != phase_) {
    phase_ = p.phase;
    phase_started_ = now;
    last_decile_ = -1;
  }
  const double fraction = p.total > 0 ? std::min(1.0, static_cast<double>(p.done) / static_cast<double>(p.total)) : 0;
  std::string figures;
  for (const auto& [name, value] : p.figures) figures += "  " + name + " " + Figure(value);

  if (mode_ == Mode::kLines) {
    // One line per tenth of each phase.
    const int decile = static_cast<int>(fraction * 10);
    if (decile == last_decile_) return;
    last_decile_ = decile;
    std::fprintf(out_, "  %s %s %3d%% (%lld/%lld %s)%s\n", stage.c_str(), p.phase.c_str(),
                 static_cast<int>(fraction * 100), static_cast<long long>(p.done), static_cast<long long>(p.total),
                 p.unit.c_str(), figures.c_str());
    std::fflush(out_);
    return;
  }
  if (now - last_draw_ < 0.1 && p.done < p.total) return;  // at most 10 redraws a second
  last_draw_ = now;
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kWidth) bar += '>' + std::string(static_cast<size_t>(kWidth - filled - 1), ' ');
  std::string eta;
  if (fraction > 0.02 && fraction < 1)
    eta = "  ETA " + FormatSeconds((now - phase_started_) * (1 - fraction) / fraction);
  std::fprintf(out_, "\r\033[K  %s %s [%s] %3d%%%s%s", stage.c_str(), p.phase.c_str(), bar.c_str(),
               static_cast<int>(fraction * 100), figures.c_str(), eta.c_str());
  std::fflush(out_);
  bar_visible_ = true;
}

void ProgressView::EndStage() {
  ClearBar();
  phase_.clear();
  std::fflush(out_);
}

}  // namespace sluice::exec
