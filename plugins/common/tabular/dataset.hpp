// Turns a table into a TensorDataset: seeded (stratified) split, preprocessing fitted on
// the training rows, tensors. Shared by the csv and arff plugins.
#ifndef SLUICE_PLUGINS_COMMON_TABULAR_DATASET_HPP_
#define SLUICE_PLUGINS_COMMON_TABULAR_DATASET_HPP_

#include "sluice/contract.hpp"
#include "sluice/stage.hpp"
#include "sluice/torch.hpp"
#include "table.hpp"

namespace sluice::tabular {

// The output and the parameters both table plugins take, declared once.
inline const sluice::Out<sluice::TensorDataset> kDataOut{
    "data", "train, validation and test splits, with the fitted preprocessing"};
inline const sluice::Param<std::string> kTargetParam{"target"};
inline const sluice::Param<std::string> kTaskParam{"task"};
inline const sluice::Param<std::string> kCategoricalEncodingParam{"categorical_encoding"};
inline const sluice::Param<std::vector<std::string>> kDropParam{"drop"};
inline const sluice::Param<std::string> kImputeParam{"impute"};
inline const sluice::Param<bool> kStandardizeParam{"standardize"};
inline const sluice::Param<int64_t> kMaxCategoriesParam{"max_categories"};
inline const sluice::Param<double> kValFractionParam{"val_fraction"};
inline const sluice::Param<double> kTestFractionParam{"test_fraction"};
inline const sluice::Param<bool> kStratifyParam{"stratify"};
inline const sluice::Param<bool> kSkipBadRowsParam{"skip_bad_rows"};
inline const sluice::Param<std::string> kEncodingParam{"encoding"};

// Declares those parameters (target, task, encoding, splits, ...).
Contract& AddTableParams(Contract& contract);
// The rest of the stage once `table` is read: publishes output "data".
Status BuildTableDataset(StageContext& ctx, const Table& table, const std::string& format);

}  // namespace sluice::tabular

#endif  // SLUICE_PLUGINS_COMMON_TABULAR_DATASET_HPP_
