// Turns a table into a TensorDataset: seeded (stratified) split, preprocessing fitted on
// the training rows, tensors. Shared by the csv and arff plugins.
#ifndef SLUICE_PLUGINS_COMMON_TABULAR_DATASET_HPP_
#define SLUICE_PLUGINS_COMMON_TABULAR_DATASET_HPP_

#include "sluice/contract.hpp"
#include "sluice/stage.hpp"
#include "table.hpp"

namespace sluice::tabular {

// The parameters both table plugins take (target, task, encoding, splits, ...).
Contract& AddTableParams(Contract& contract);
// The rest of the stage once `table` is read: publishes output "data".
Status BuildTableDataset(StageContext& ctx, const Table& table, const std::string& format);

}  // namespace sluice::tabular

#endif  // SLUICE_PLUGINS_COMMON_TABULAR_DATASET_HPP_
