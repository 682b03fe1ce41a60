#include "diagnostics.hpp"

#include <algorithm>
#include <sstream>

#include "sluice/excerpt.hpp"

namespace sluice::pipeline {

void SourceTexts::Add(std::string file, std::string text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  lines_[std::move(file)] = std::move(lines);
}

std::string_view SourceTexts::Line(const std::string& file, int line) const {
  auto it = lines_.find(file);
  if (it == lines_.end() || line < 1 || static_cast<size_t>(line) > it->second.size()) return {};
  return it->second[static_cast<size_t>(line - 1)];
}

void Diagnostics::Error(SourceLoc loc, std::string message) {
  // One mistake reached twice (a misspelt key checked for each of its values) is one error.
  if (!seen_.emplace(loc.file, loc.line, loc.column, message).second) return;
  errors_.push_back({std::move(loc), std::move(message)});
}

std::vector<Diagnostic> Diagnostics::Sorted() const {
  std::vector<Diagnostic> sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
    // The pipeline file first, then --set overrides; within one, by position.
    const bool a_set = a.loc.file == "--set", b_set = b.loc.file == "--set";
    if (a_set != b_set) return b_set;
    if (a.loc.line != b.loc.line) return a.loc.line < b.loc.line;
    return a.loc.column < b.loc.column;
  });
  return sorted;
}

namespace {

// A message quotes what the file says (a key, a value): a word of it longer than this is
// quoted in part, and the message as a whole is cut at kMaxMessage bytes.
constexpr size_t kMaxWord = 80;
constexpr size_t kMaxMessage = 2000;
// A source line longer than this is quoted around the error's column.
constexpr size_t kMaxQuotedLine = 160;

std::string Shortened(const std::string& message) {
  std::string out;
  size_t i = 0;
  while (i < message.size() && out.size() < kMaxMessage) {
    const size_t word_end = std::min(message.find_first_of(" \n", i), message.size());
    if (word_end == i) {
      out += message[i++];
      continue;
    }
    std::string_view word = std::string_view(message).substr(i, word_end - i);
    i = word_end;
    if (word.size() <= kMaxWord) {
      out += word;
      continue;
    }
    // The quotes and punctuation around a quoted key or value stay.
    size_t open = 0, close = 0;
    while (open < 3 && std::string_view("'\"([{").find(word[open]) != std::string_view::npos) ++open;
    while (close < 3 && std::string_view("'\")]},;:.").find(word[word.size() - 1 - close]) != std::string_view::npos) {
      ++close;
    }
    out += std::string(word.substr(0, open)) + Excerpt(word.substr(open, word.size() - open - close), kMaxWord / 2) +
           std::string(word.substr(word.size() - close));
  }
  if (i < message.size()) out += "... (message cut: " + std::to_string(message.size()) + " bytes)";
  return out;
}

// A byte of a quoted source line as printed: control characters and bytes that are not
// UTF-8 become '?' (one column each, so the caret still lines up); tabs are kept.
bool Printable(std::string_view line, size_t i) {
  const unsigned char c = static_cast<unsigned char>(line[i]);
  if (c == '\t' || (c >= 0x20 && c < 0x7f)) return true;
  if (c < 0x80) return false;
  for (size_t back = 0; back < 4 && back <= i; ++back) {  // inside a valid character?
    const size_t length = Utf8CharLength(line, i - back);
    if (length > back) return true;
    if ((static_cast<unsigned char>(line[i - back]) & 0xc0) != 0x80) break;
  }
  return false;
}

}  // namespace

std::string Diagnostics::Render(const SourceTexts& texts) const {
  std::string out;
  const std::vector<Diagnostic> sorted = Sorted();
  for (size_t shown = 0; shown < sorted.size() && shown < kMaxRendered; ++shown) {
    const Diagnostic& d = sorted[shown];
    out += d.loc.file;
    if (d.loc.line > 0) out += ":" + std::to_string(d.loc.line) + ":" + std::to_string(std::max(d.loc.column, 1));
    out += ": error: " + Shortened(d.message) + "\n";
    std::string_view line = texts.Line(d.loc.file, d.loc.line);
    if (line.empty()) continue;
    // The part of the line quoted: all of it, or a window around the column.
    const size_t at = std::min(static_cast<size_t>(std::max(d.loc.column, 1) - 1), line.size());
    size_t begin = 0, end = line.size();
    if (line.size() > kMaxQuotedLine) {
      begin = at > kMaxQuotedLine / 4 ? at - kMaxQuotedLine / 4 : 0;
      end = std::min(line.size(), begin + kMaxQuotedLine);
      begin = end - std::min(end, kMaxQuotedLine);
      while (begin > 0 && begin < at && (static_cast<unsigned char>(line[begin]) & 0xc0) == 0x80) ++begin;
      while (end < line.size() && end > at && (static_cast<unsigned char>(line[end]) & 0xc0) == 0x80) --end;
    }
    const std::string lead = begin > 0 ? "..." : "";
    std::string quoted = lead;
    for (size_t i = begin; i < end; ++i) quoted += Printable(line, i) ? line[i] : '?';
    if (end < line.size()) quoted += "...";
    const std::string number = std::to_string(d.loc.line);
    const std::string gutter(std::max<size_t>(number.size(), 4), ' ');
    out += gutter.substr(number.size()) + number + " | " + quoted + "\n";
    // Underline within the quoted part; tabs are kept so the caret lines up.
    std::string pad(lead.size(), ' ');
    for (size_t i = begin; i < at && i < end; ++i) pad += line[i] == '\t' ? '\t' : ' ';
    const size_t room = end > at ? end - at : 1;
    const size_t length = std::max<size_t>(1, std::min(static_cast<size_t>(std::max(d.loc.length, 1)), room));
    out += gutter + " | " + pad + "^" + std::string(length - 1, '~') + "\n";
  }
  if (errors_.size() > kMaxRendered) {
    out += "(" + std::to_string(errors_.size() - kMaxRendered) + " more errors not shown)\n";
  }
  if (!errors_.empty()) {
    out += std::to_string(errors_.size()) + (errors_.size() == 1 ? " error" : " errors") + "\n";
  }
  return out;
}

namespace {
// Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}
}  // namespace

std::string ClosestMatch(std::string_view name, const std::vector<std::string>& candidates) {
  // An abbreviation ("val_acc" for "val_accuracy") is the likeliest meaning, when only one
  // candidate begins with it.
  std::string prefixed;
  int prefixes = 0;
  for (const std::string& c : candidates) {
    if (name.size() >= 3 && c.size() > name.size() && c.compare(0, name.size(), name) == 0) {
      prefixed = c;
      ++prefixes;
    }
  }
  if (prefixes == 1) return prefixed;
  const size_t limit = std::max<size_t>(1, (name.size() + 2) / 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string& c : candidates) {
    const size_t distance = EditDistance(name, c);
    if (distance < best_distance) {
      best_distance = distance;
      best = c;
    }
  }
  return best;
}

std::string DidYouMean(std::string_view name, const std::vector<std::string>& candidates) {
  std::string match = ClosestMatch(name, candidates);
  return match.empty() ? "" : "; did you mean '" + match + "'?";
}

}  // namespace sluice::pipeline
