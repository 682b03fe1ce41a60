#include "table.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "sluice/excerpt.hpp"

namespace sluice::tabular {

const char* ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kNumeric:
      return "numeric";
    case ColumnType::kNominal:
      return "nominal";
    case ColumnType::kString:
      return "string";
    case ColumnType::kDate:
      return "date";
  }
  return "?";
}

std::optional<size_t> Table::Find(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == name) return i;
  }
  return std::nullopt;
}

std::map<std::string, size_t, std::less<>> Table::Index() const {
  std::map<std::string, size_t, std::less<>> index;
  for (size_t i = 0; i < columns.size(); ++i) index.emplace(columns[i].name, i);
  return index;
}

bool ParseNumber(const std::string& text, double& out) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  if (begin == end) return false;
  const std::string trimmed = text.substr(begin, end - begin);
  char* stop = nullptr;
  errno = 0;
  out = std::strtod(trimmed.c_str(), &stop);
  return stop == trimmed.c_str() + trimmed.size() && errno != ERANGE && std::isfinite(out);
}

bool ParseDate(const std::string& text, const std::string& format, double& days) {
  std::tm tm{};
  tm.tm_mday = 1;
  size_t t = 0;
  for (size_t f = 0; f < format.size();) {
    const char c = format[f];
    if (c == '\'') {  // quoted literal ('T'), '' is a quote
      size_t close = format.find('\'', f + 1);
      if (close == std::string::npos) return false;
      const std::string literal = close == f + 1 ? "'" : format.substr(f + 1, close - f - 1);
      if (text.compare(t, literal.size(), literal) != 0) return false;
      t += literal.size();
      f = close + 1;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c))) {
      size_t run = f;
      while (run < format.size() && format[run] == c) ++run;
      const size_t width = run - f;
      size_t digits = 0;
      int value = 0;
      // A field takes its pattern's width, more digits for years.
      const size_t max_digits = c == 'y' ? 4 : std::max<size_t>(width, 2);
      while (t < text.size() && digits < max_digits && std::isdigit(static_cast<unsigned char>(text[t]))) {
        value = value * 10 + (text[t++] - '0');
        ++digits;
      }
      if (digits == 0) return false;
      switch (c) {
        case 'y':
          tm.tm_year = (width == 2 ? 2000 + value : value) - 1900;
          break;
        case 'M':
          tm.tm_mon = value - 1;
          break;
        case 'd':
          tm.tm_mday = value;
          break;
        case 'H':
          tm.tm_hour = value;
          break;
        case 'm':
          tm.tm_min = value;
          break;
        case 's':
          tm.tm_sec = value;
          break;
        default:
          return false;
      }
      f = run;
      continue;
    }
    if (t >= text.size() || text[t] != c) return false;
    ++t;
    ++f;
  }
  if (t != text.size() || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31) return false;
  days = static_cast<double>(timegm(&tm)) / 86400.0;
  return true;
}

Encoding EncodingFromName(const std::string& name) { return name == "latin-1" ? Encoding::kLatin1 : Encoding::kUtf8; }

namespace {

// "FILE:LINE: ... at byte B of the line (offset O in the file)" for the byte at `offset`.
std::string Position(const std::string& path, const std::string& text, size_t offset) {
  int64_t line = 1;
  size_t line_start = 0;
  for (size_t i = text.find('\n'); i != std::string::npos && i < offset; i = text.find('\n', i + 1)) {
    ++line;
    line_start = i + 1;
  }
  return path + ":" + std::to_string(line) + ": byte " + std::to_string(offset - line_start + 1) +
         " of the line (offset " + std::to_string(offset) + " in the file)";
}

}  // namespace

Status ReadText(const std::string& path, Encoding encoding, std::string& text) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open: " + std::strerror(errno ? errno : ENOENT));
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IoError(path + ": read failed: " + std::strerror(errno));
  if (encoding == Encoding::kLatin1) {
    std::string utf8;
    utf8.reserve(text.size() + text.size() / 8);
    for (size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c == 0) return Status::InvalidArgument(Position(path, text, i) + ": a NUL byte: this is not a text file");
      if (c < 0x80) {
        utf8 += static_cast<char>(c);
      } else {
        utf8 += static_cast<char>(0xc0 | (c >> 6));
        utf8 += static_cast<char>(0x80 | (c & 0x3f));
      }
    }
    text.swap(utf8);
    return Status::Ok();
  }
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);  // a UTF-8 byte-order mark
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x01 && c < 0x80) {
      ++i;
      continue;
    }
    if (c == 0) return Status::InvalidArgument(Position(path, text, i) + ": a NUL byte: this is not a text file");
    const size_t length = Utf8CharLength(text, i);
    if (length == 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      return Status::InvalidArgument(Position(path, text, i) + ": invalid UTF-8 (" + hex +
                                     "); if the file is Latin-1, set encoding = \"latin-1\"");
    }
    i += length;
  }
  return Status::Ok();
}

Status ReadTable(const std::string& path, const ReadOptions& options, Table& out) {
  std::string extension = std::filesystem::path(path).extension().string();
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (extension == ".arff") return ReadArff(path, options, out);
  if (extension == ".jsonl" || extension == ".ndjson" || extension == ".json") return ReadJsonLines(path, options, out);
  if (extension != ".tsv") return ReadCsv(path, options, out);
  ReadOptions tabs = options;
  tabs.delimiter = '\t';
  return ReadCsv(path, tabs, out);
}

}  // namespace sluice::tabular
