// Labelled and unlabelled texts from CSV, TSV, JSON Lines or ARFF files (string attributes,
// as in Weka's Reuters-21578 sets). No LibTorch.
#ifndef SLUICE_PLUGINS_COMMON_TEXT_TEXT_FILES_HPP_
#define SLUICE_PLUGINS_COMMON_TEXT_TEXT_FILES_HPP_

#include <string>
#include <vector>

#include "sluice/status.hpp"
#include "table.hpp"

namespace sluice::text {

struct Texts {
  std::string text_column, label_column;  // the columns read
  std::vector<std::string> texts;
  std::vector<std::string> labels;        // empty when no label column was asked for
  std::vector<std::string> label_values;  // ARFF: the declared order of a nominal label
  std::vector<int64_t> lines;             // where each text starts, for messages
};

// Reads `path` by extension: .csv, .tsv, .jsonl / .json (one object per line), .arff, or
// .txt (a corpus: one document per non-blank line, no labels).
// `text_column` is matched exactly, then ignoring case; an empty `label_column` reads no
// labels, "auto" the last column other than the text. A missing text or label is an
// error naming the line.
Status ReadTexts(const std::string& path, const std::string& text_column, const std::string& label_column,
                 tabular::Encoding encoding, Texts& out);

}  // namespace sluice::text

#endif  // SLUICE_PLUGINS_COMMON_TEXT_TEXT_FILES_HPP_
