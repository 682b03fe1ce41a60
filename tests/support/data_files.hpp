// The data files tests read, found where the shipped pipelines find theirs: the data
// path (host/data/data_path.hpp), which tools/setup fills. A missing file fails the test
// with its name and the setup step that provides it; it is never a silent skip.
#ifndef SLUICE_TESTS_SUPPORT_DATA_FILES_HPP_
#define SLUICE_TESTS_SUPPORT_DATA_FILES_HPP_

#include <string>

namespace sluice::testing {

// The absolute path of `name` (e.g. "weka/examples/credit-g.arff") on the data path.
// Throws std::runtime_error, which fails the calling test, when it is not there.
std::string DataFile(const std::string& name);

// Weka's example ARFF files ("credit-g.arff", "diabetes.arff", ...).
inline std::string WekaExample(const std::string& file) { return DataFile("weka/examples/" + file); }
// Fashion-MNIST's IDX folder, or one of its files ("t10k-images-idx3-ubyte.gz").
inline std::string FashionMnist(const std::string& file = "") {
  return DataFile(file.empty() ? "fashion-mnist" : "fashion-mnist/" + file);
}

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_DATA_FILES_HPP_
