// What `sluice serve` reads and writes: MLflow's scoring protocol (/invocations) and the
// Open Inference Protocol (KServe v2), turned into rows of a served model's inputs and
// back. A client's mistake is an InvalidArgument naming the row and column; the server
// answers it 400.
#ifndef SLUICE_HOST_SERVE_PROTOCOL_HPP_
#define SLUICE_HOST_SERVE_PROTOCOL_HPP_

#include <string>
#include <string_view>
#include <vector>

#include "sluice/services.hpp"
#include "sluice/status.hpp"

namespace sluice::serve {

using Rows = std::vector<std::vector<InferenceValue>>;

// An /invocations body: JSON (dataframe_split, dataframe_records, instances, inputs) or,
// when `content_type` says text/csv, CSV with a header. Rows in the model's input order.
Status ParseScoring(const std::string& body, std::string_view content_type, const ServedModelInfo& info, Rows& rows);
// {"predictions": [...]}: per row {"label", "probabilities"}, {"value"} or {"embedding"}.
std::string FormatScoring(const ServedModelInfo& info, const std::vector<double>& out, size_t rows);

// A v2 inference request ({"id", "inputs": [{"name", "shape", "datatype", "data"}]}).
Status ParseInfer(const std::string& body, const ServedModelInfo& info, Rows& rows, std::string& id);
std::string FormatInfer(const ServedModelInfo& info, const std::string& name, int64_t version, const std::string& id,
                        const std::vector<double>& out, size_t rows);
// GET /v2/models/{name}: the inputs and outputs with names, types and shapes.
std::string ModelMetadata(const ServedModelInfo& info, const std::string& name, int64_t version,
                          const std::string& reference);

// Shortest text that reads back as the same double ("null" for NaN and infinities).
void AppendNumber(std::string& out, double value);

}  // namespace sluice::serve

#endif  // SLUICE_HOST_SERVE_PROTOCOL_HPP_
