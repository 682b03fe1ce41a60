// Problems found in a pipeline, each tied to a place in a source text, rendered as
//
//   pipelines/x.toml:12:1: error: unknown parameter 'lrr' of stage 'train'; did you mean 'lr'?
//      12 | lrr = 1e-3
//         | ^~~
#ifndef SLUICE_HOST_PIPELINE_DIAGNOSTICS_HPP_
#define SLUICE_HOST_PIPELINE_DIAGNOSTICS_HPP_

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace sluice::pipeline {

struct SourceLoc {
  std::string file;  // as the user named it; "--set" for command-line overrides
  int line = 0;      // 1-based; 0 when the problem is about the whole file
  int column = 0;    // 1-based
  int length = 1;    // characters to underline
};

struct Diagnostic {
  SourceLoc loc;
  std::string message;
};

// The texts diagnostics point into, by file name, so they can quote the offending line.
class SourceTexts {
 public:
  void Add(std::string file, std::string text);
  // The 1-based line of `file`, or "" when unknown.
  std::string_view Line(const std::string& file, int line) const;

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> lines_;
};

class Diagnostics {
 public:
  // The errors Render quotes; past them it says how many more there are.
  static constexpr size_t kMaxRendered = 100;

  void Error(SourceLoc loc, std::string message);
  bool empty() const { return errors_.empty(); }
  size_t size() const { return errors_.size(); }
  // Errors ordered by file position (stable for equal positions).
  std::vector<Diagnostic> Sorted() const;
  // The first kMaxRendered errors with their quoted lines and carets, then a count line.
  std::string Render(const SourceTexts& texts) const;

 private:
  std::vector<Diagnostic> errors_;
  std::set<std::tuple<std::string, int, int, std::string>> seen_;  // (file, line, column, message)
};

// Closest candidate to `name` within a small edit distance, or "" (for "did you mean").
std::string ClosestMatch(std::string_view name, const std::vector<std::string>& candidates);
// "; did you mean 'x'?" or "".
std::string DidYouMean(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace sluice::pipeline

#endif  // SLUICE_HOST_PIPELINE_DIAGNOSTICS_HPP_
