// What `sluice serve` reads and writes, without a server: MLflow's scoring formats and the
// Open Inference Protocol into rows of a model's inputs, and the answers back.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "serve/protocol.hpp"

namespace sluice::serve {
namespace {

using json = nlohmann::json;
using Kind = InferenceValue::Kind;

ServedModelInfo Table() {
  ServedModelInfo info;
  info.task = "classification";
  info.class_names = {"good", "bad"};
  info.inputs = {{"age", "FP64", {}}, {"job", "BYTES", {}}};
  info.target = "class";
  info.output_width = 2;
  return info;
}

ServedModelInfo Image() {
  ServedModelInfo info;
  info.task = "classification";
  info.inputs = {{"pixels", "FP32", {1, 2, 2}}};
  info.output_width = 3;
  return info;
}

TEST(ServeProtocolTest, EveryScoringFormatGivesTheSameRowsInTheModelsOrder) {
  const std::vector<std::string> bodies = {
      R"({"dataframe_split": {"columns": ["job", "age", "class"], "data": [["clerk", 31, "good"], [null, "40", "bad"]]}})",
      R"({"dataframe_records": [{"age": 31, "job": "clerk"}, {"job": null, "age": "40"}]})",
      R"({"instances": [{"age": 31, "job": "clerk"}, {"job": null, "age": "40"}]})",
      R"({"inputs": {"job": ["clerk", null], "age": [31, "40"]}})",
  };
  for (const std::string& body : bodies) {
    Rows rows;
    ASSERT_TRUE(ParseScoring(body, "application/json", Table(), rows).ok()) << body;
    ASSERT_EQ(rows.size(), 2u) << body;
    EXPECT_EQ(rows[0][0].kind, Kind::kNumber) << body;
    EXPECT_EQ(rows[0][0].number, 31) << body;
    EXPECT_EQ(rows[0][1].text, "clerk") << body;
    EXPECT_EQ(rows[1][0].kind, Kind::kText) << "a number as text is the model's to read: " << body;
    EXPECT_EQ(rows[1][1].kind, Kind::kMissing) << body;
  }
  Rows csv;
  ASSERT_TRUE(ParseScoring("job,age\nclerk,31\n?,40\n", "text/csv; charset=utf-8", Table(), csv).ok());
  ASSERT_EQ(csv.size(), 2u);
  EXPECT_EQ(csv[0][0].text, "31") << "CSV cells as written";
  EXPECT_EQ(csv[1][1].kind, Kind::kMissing) << "'?' is a missing value, as in a CSV file";
}

TEST(ServeProtocolTest, ColumnsNamedTwiceOrRowsOfTheWrongLengthAreRefused) {
  Rows rows;
  Status twice = ParseScoring(R"({"dataframe_split": {"columns": ["age", "age", "job"], "data": []}})",
                              "application/json", Table(), rows);
  EXPECT_EQ(twice.message(), "column 'age' appears twice");
  Status uneven = ParseScoring(R"({"inputs": {"age": [1, 2], "job": ["a"]}})", "application/json", Table(), rows);
  EXPECT_EQ(uneven.message(), "inputs: column 'job' has 1 values, the first column 2");
  Status bare = ParseScoring(R"({"instances": [3]})", "application/json", Table(), rows);
  EXPECT_EQ(bare.message(), "instances: row 1 must be an object naming the columns; the model reads: age, job");
}

TEST(ServeProtocolTest, ImagesArriveAsNestedListsOrOneFlatTensor) {
  Rows rows;
  ASSERT_TRUE(ParseScoring(R"({"instances": [[[[0, 1], [2, 3]]], [4, 5, 6, 7]]})", "", Image(), rows).ok());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0].numbers, (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(rows[1][0].numbers, (std::vector<double>{4, 5, 6, 7}));
  std::string id;
  ASSERT_TRUE(ParseInfer(R"({"id": "a", "inputs": [{"name": "pixels", "shape": [2, 1, 2, 2], "datatype": "UINT8",
                                                    "data": [0, 1, 2, 3, 4, 5, 6, 7]}]})",
                         Image(), rows, id)
                  .ok());
  EXPECT_EQ(id, "a");
  EXPECT_EQ(rows[1][0].numbers, (std::vector<double>{4, 5, 6, 7}));
  Status shape = ParseInfer(R"({"inputs": [{"name": "pixels", "shape": [2, 3], "datatype": "FP32",
                                             "data": [0, 1, 2, 3, 4, 5]}]})",
                            Image(), rows, id);
  EXPECT_EQ(shape.message(), "input 'pixels': shape [2, ...] gives 3 values per row; the model takes 4");
}

TEST(ServeProtocolTest, AnswersCarryLabelsProbabilitiesValuesOrEmbeddingsExactly) {
  const std::vector<double> out = {0.25, 0.75, 1.0 / 3, 2.0 / 3};
  const json scored = json::parse(FormatScoring(Table(), out, 2));
  EXPECT_EQ(scored["predictions"][0]["label"], "bad");
  EXPECT_EQ(scored["predictions"][1]["probabilities"][0].get<double>(), 1.0 / 3) << "shortest text that reads back";
  ServedModelInfo regression = Table();
  regression.task = "regression";
  regression.output_width = 1;
  EXPECT_EQ(json::parse(FormatScoring(regression, {2.5, -1}, 2))["predictions"][1]["value"], -1.0);
  const json infer = json::parse(FormatInfer(Table(), "credit", 3, "q", out, 2));
  EXPECT_EQ(infer["model_version"], "3");
  EXPECT_EQ(infer["outputs"][0]["data"], json::array({"bad", "bad"}));
  EXPECT_EQ(infer["outputs"][1]["shape"], json::array({2, 2}));
  std::string text;
  AppendNumber(text, std::nan(""));
  EXPECT_EQ(text, "null") << "JSON has no NaN";
}

}  // namespace
}  // namespace sluice::serve
