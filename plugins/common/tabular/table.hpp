// Tables read from CSV, JSON Lines and ARFF files, cell by cell as written, with the line each row
// came from. No LibTorch: preprocessing turns a Table into numbers (preprocess.hpp).
#ifndef SLUICE_PLUGINS_COMMON_TABULAR_TABLE_HPP_
#define SLUICE_PLUGINS_COMMON_TABULAR_TABLE_HPP_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sluice/status.hpp"

namespace sluice::tabular {

enum class ColumnType { kNumeric, kNominal, kString, kDate };
const char* ColumnTypeName(ColumnType type);  // "numeric", "nominal", "string", "date"

struct Column {
  std::string name;
  ColumnType type = ColumnType::kNumeric;
  std::vector<std::string> values;  // nominal: the declared (ARFF) or seen (CSV) values
  std::string date_format;          // date: Java SimpleDateFormat pattern (ARFF)
};

struct Cell {
  bool missing = true;
  double number = 0;  // numeric and date columns (dates as days since 1970-01-01)
  std::string text;   // nominal and string columns; the raw text for all
};

enum class Encoding { kUtf8, kLatin1 };

struct Table {
  std::string source;  // file path, for messages
  std::vector<Column> columns;
  std::vector<std::vector<Cell>> rows;
  std::vector<int64_t> lines;  // the source line each row starts on
  // Rows left out because they were malformed (skip_bad_rows), with why.
  std::vector<std::string> skipped;
  // What the reader decided that the user should know (a column of numbers and text
  // read as categorical), for the run's log and its record.
  std::vector<std::string> notes;

  // Index of the column named `name`, if any.
  std::optional<size_t> Find(const std::string& name) const;
  // Every column's index by name, for lookups in a loop (a table may have 100,000
  // columns, and Find looks through them all).
  std::map<std::string, size_t, std::less<>> Index() const;
};

struct ReadOptions {
  bool skip_bad_rows = false;  // false: the first malformed row fails the read
  // UTF-8 (a byte-order mark is dropped; invalid bytes are an error naming the line), or
  // Latin-1 (ISO-8859-1), converted to UTF-8.
  Encoding encoding = Encoding::kUtf8;
  // CSV and JSON Lines: columns read as categorical even where their values are numbers.
  std::vector<std::string> categorical;
  char delimiter = ',';  // CSV only
  bool header = true;    // CSV only: the first record names the columns
  std::vector<std::string> na_values = {"", "?", "NA", "N/A", "NaN", "nan", "null", "NULL"};  // CSV, JSON Lines
  // CSV and JSON Lines: columns whose types are already known (from a model's schema), by name;
  // other columns are inferred: numeric if every present value is a finite number,
  // categorical if at most half of them are; a column of numbers with a few cells of
  // text is an error naming the first such cell (or, with skip_bad_rows, its rows are
  // skipped).
  std::vector<Column> known_columns;
};

// "utf-8" or "latin-1" (the values of the plugins' encoding parameter).
Encoding EncodingFromName(const std::string& name);

// The whole file as UTF-8 text: the byte-order mark dropped, Latin-1 converted, and
// anything that is not text (invalid UTF-8, a NUL byte) an error with the line and the
// byte where it is.
Status ReadText(const std::string& path, Encoding encoding, std::string& text);

// Errors and skipped rows read "FILE:LINE: what is wrong".
Status ReadCsv(const std::string& path, const ReadOptions& options, Table& out);
// CSV already in memory as UTF-8 (`source` names it in messages, as a path would).
Status ParseCsv(const std::string& source, const std::string& text, const ReadOptions& options, Table& out);
Status ReadArff(const std::string& path, const ReadOptions& options, Table& out);
// JSON Lines: one object per line, its keys the columns (every key any row has, in the
// order first seen). Strings are cells as written, numbers and booleans as JSON writes
// them; null, an absent key and the na_values are missing; an array or object is an
// error naming the line. Types as for CSV.
Status ReadJsonLines(const std::string& path, const ReadOptions& options, Table& out);
// Calls `each` with every object of JSON Lines `text` (UTF-8, from ReadText) and its line
// number, blank lines skipped; a line that is not a JSON object is an error naming it
// ("SOURCE:LINE: not a JSON object", with an excerpt of the parser's message).
Status ForEachJsonObject(const std::string& source, const std::string& text,
                         const std::function<Status(int64_t line, const nlohmann::json& object)>& each);
// By extension, in any case: .arff is ARFF, .jsonl, .ndjson and .json JSON Lines, .tsv
// CSV separated by tabs, anything else CSV as the options say.
Status ReadTable(const std::string& path, const ReadOptions& options, Table& out);

// Parses a number the way both formats write them ("3", "-2.5e-3", "inf" is refused).
bool ParseNumber(const std::string& text, double& out);
// Parses `text` with a Java SimpleDateFormat pattern (y M d H m s and quoted literals)
// into days since 1970-01-01 UTC.
bool ParseDate(const std::string& text, const std::string& format, double& days);

}  // namespace sluice::tabular

#endif  // SLUICE_PLUGINS_COMMON_TABULAR_TABLE_HPP_
