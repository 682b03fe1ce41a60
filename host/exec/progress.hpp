// What the user sees on stderr while a run executes: stage starts and ends, plugin
// messages, and stage progress as a live bar on a terminal or plain lines otherwise.
#ifndef SLUICE_HOST_EXEC_PROGRESS_HPP_
#define SLUICE_HOST_EXEC_PROGRESS_HPP_

#include <cstdio>
#include <string>

#include "sluice/stage.hpp"

namespace sluice::exec {

class ProgressView {
 public:
  // kMessages shows only what plugins say (Info), not the run's own progress.
  enum class Mode { kBar, kLines, kMessages, kQuiet };
  // kBar when `stream` is a terminal, kLines otherwise.
  static Mode DetectMode(std::FILE* stream);
  ProgressView(std::FILE* stream, Mode mode) : out_(stream), mode_(mode) {}

  void Line(const std::string& text);     // a whole line (clears a live bar first)
  void Message(const std::string& text);  // a plugin's line (Info)
  void Update(const std::string& stage, const Progress& progress);
  void EndStage();  // clears the bar

 private:
  void ClearBar();
  std::FILE* out_;
  Mode mode_;
  bool bar_visible_ = false;
  double last_draw_ = 0;
  double phase_started_ = 0;
  std::string phase_;
  int last_decile_ = -1;
};

// "1.2s", "3m05s", "1h02m".
std::string FormatSeconds(double seconds);

}  // namespace sluice::exec

#endif  // SLUICE_HOST_EXEC_PROGRESS_HPP_
