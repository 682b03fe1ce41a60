// Aligned text tables for human output.
#ifndef SLUICE_HOST_CLI_TABLE_HPP_
#define SLUICE_HOST_CLI_TABLE_HPP_

#include <string>
#include <vector>

namespace sluice::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header, std::string indent = "")
      : header_(std::move(header)), indent_(std::move(indent)) {}
  void Row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  // Columns padded to their widest cell; a header of "" prints no header line.
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::string indent_;
  std::vector<std::vector<std::string>> rows_;
};

// A metric or parameter value for people: up to 6 significant digits.
std::string HumanNumber(double value);
// A CSV field, quoted when needed.
std::string CsvField(const std::string& text);

}  // namespace sluice::cli

#endif  // SLUICE_HOST_CLI_TABLE_HPP_
