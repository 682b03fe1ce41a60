// `sluice serve` as users run it: a real server on a loopback port, real HTTP clients
// (Boost.Beast, synchronous). What it answers equals `sluice predict` for a table model
// and a text model; bad requests get a 4xx JSON error naming what is wrong while other
// clients go on; concurrent clients, an alias promoted under load, SIGTERM draining,
// limits and bearer tokens.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include "data_files.hpp"
#include "http_client.hpp"
#include "idx_reader.hpp"
#include "process.hpp"
#include "store_cli_test.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kPipelines = std::string(SLUICE_TEST_SOURCE_DIR) + "/../pipelines/";

// An ARFF file's attribute names, which are numeric, and its rows as written.
struct Arff {
  std::vector<std::string> columns;
  std::vector<bool> numeric;
  std::vector<std::vector<std::string>> rows;
};

std::vector<std::string> SplitArffLine(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  for (char c : line) {
    if (c == '\'') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      cells.push_back(cell);
      cell.clear();
    } else {
      cell += c;
    }
  }
  cells.push_back(cell);
  return cells;
}

Arff ReadArff(const std::string& path) {
  Arff arff;
  std::ifstream in(path);
  bool data = false;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '%') continue;
    if (data) {
      arff.rows.push_back(SplitArffLine(line));
    } else if (line.rfind("@attribute", 0) == 0) {
      std::stringstream s(line.substr(11));
      std::string name, type;
      s >> name >> type;
      if (name.front() == '\'') name = name.substr(1, name.size() - 2);
      arff.columns.push_back(name);
      arff.numeric.push_back(type == "numeric" || type == "real" || type == "integer");
    } else if (line.rfind("@data", 0) == 0) {
      data = true;
    }
  }
  return arff;
}

json Cell(const Arff& arff, size_t row, size_t column) {
  const std::string& text = arff.rows[row][column];
  return arff.numeric[column] ? json(std::stod(text)) : json(text);
}

json SplitBody(const Arff& arff, size_t begin, size_t end) {
  json data = json::array();
  for (size_t r = begin; r < end; ++r) {
    json row = json::array();
    for (size_t c = 0; c < arff.columns.size(); ++c) row.push_back(Cell(arff, r, c));
    data.push_back(row);
  }
  return {{"dataframe_split", {{"columns", arff.columns}, {"data", data}}}};
}

json Record(const Arff& arff, size_t row) {
  json record = json::object();
  for (size_t c = 0; c < arff.columns.size(); ++c) record[arff.columns[c]] = Cell(arff, row, c);
  return record;
}

class ServeTest : public StoreCliTest {
 protected:
  // `sluice serve ARGS... --port 0`, once it listens.
  struct Server {
    std::unique_ptr<Child> child;
    uint16_t port = 0;
  };
  Server Serve(std::vector<std::string> args) {
    args.insert(args.begin(), {SluiceBinary(), "serve"});
    args.insert(args.end(), {"--port", "0"});
    Server server;
    server.child = std::make_unique<Child>(args, Options());
    server.port = ListeningPort(*server.child);
    EXPECT_NE(server.port, 0) << "sluice serve stopped before listening";
    return server;
  }

  void TrainCreditRisk(const std::string& seed = "42") {
    const json run =
        SluiceJson({"run", kPipelines + "credit_risk.toml", "--set", "train.epochs=2", "--set", "train.seed=" + seed});
    ASSERT_EQ(run["status"], "succeeded") << run.dump();
  }

  // `sluice predict MODEL` on credit-g, as numbers.
  std::vector<std::vector<double>> Predicted(const std::string& model, const std::string& input) {
    const std::string out = dir_ / (model + ".csv");
    const ProcessResult r = Sluice({"predict", model, "--input", input, "--output", out, "--force"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return CsvNumbers(out);
  }
};

void ExpectSameAsPredicted(const json& predictions, const std::vector<std::vector<double>>& predicted, size_t begin,
                           const std::string& what) {
  ASSERT_TRUE(predictions.is_array()) << what;
  for (size_t i = 0; i < predictions.size(); ++i) {
    const std::vector<double>& row = predicted.at(begin + i);
    const json& p = predictions[i];
    EXPECT_EQ(p["label"], row[1] == 0 ? "good" : "bad") << what << " row " << i;
    ASSERT_EQ(p["probabilities"].size(), 2u) << what;
    for (size_t c = 0; c < 2; ++c) {
      EXPECT_NEAR(p["probabilities"][c].get<double>(), row[2 + c], 1e-6) << what << " row " << i;
    }
  }
}

TEST_F(ServeTest, ATableModelAnswersWhatPredictWritesInEveryFormat) {
  TrainCreditRisk();
  const std::string input = WekaExample("credit-g.arff");
  const auto predicted = Predicted("credit-risk", input);
  const Arff arff = ReadArff(input);
  ASSERT_EQ(predicted.size(), 1000u);
  ASSERT_EQ(arff.rows.size(), 1000u);
  Server server = Serve({"credit-risk"});
  Client client(server.port);

  Reply all = client.Post("/invocations", SplitBody(arff, 0, 1000).dump());
  ASSERT_EQ(all.status, 200) << all.body << all.error;
  EXPECT_EQ(all.version, "1");
  ASSERT_EQ(all.Json()["predictions"].size(), 1000u);
  ExpectSameAsPredicted(all.Json()["predictions"], predicted, 0, "dataframe_split");

  json records = json::array(), instances = json::array(), columns = json::object();
  for (size_t r = 10; r < 20; ++r) records.push_back(Record(arff, r));
  for (size_t c = 0; c < arff.columns.size(); ++c) {
    for (size_t r = 20; r < 25; ++r) columns[arff.columns[c]].push_back(Cell(arff, r, c));
  }
  Reply by_records = client.Post("/invocations", json{{"dataframe_records", records}}.dump());
  ASSERT_EQ(by_records.status, 200) << by_records.body;
  ExpectSameAsPredicted(by_records.Json()["predictions"], predicted, 10, "dataframe_records");
  Reply by_instances = client.Post("/models/credit-risk/invocations", json{{"instances", records}}.dump());
  ASSERT_EQ(by_instances.status, 200) << by_instances.body;
  ExpectSameAsPredicted(by_instances.Json()["predictions"], predicted, 10, "instances");
  Reply by_columns = client.Post("/invocations", json{{"inputs", columns}}.dump());
  ASSERT_EQ(by_columns.status, 200) << by_columns.body;
  ExpectSameAsPredicted(by_columns.Json()["predictions"], predicted, 20, "inputs");

  // CSV as a file holds it, the label column included (ignored).
  std::string csv;
  for (size_t c = 0; c < arff.columns.size(); ++c) csv += (c ? "," : "") + arff.columns[c];
  csv += "\n";
  for (size_t r = 30; r < 40; ++r) {
    for (size_t c = 0; c < arff.columns.size(); ++c) csv += (c ? "," : "") + arff.rows[r][c];
    csv += "\n";
  }
  Reply by_csv = client.Post("/invocations", csv, "text/csv");
  ASSERT_EQ(by_csv.status, 200) << by_csv.body;
  ExpectSameAsPredicted(by_csv.Json()["predictions"], predicted, 30, "text/csv");

  // The Open Inference Protocol: metadata, then one tensor per column.
  const json metadata = client.Get("/v2/models/credit-risk").Json();
  EXPECT_EQ(metadata["versions"], json::array({"1"}));
  EXPECT_EQ(metadata["inputs"].size(), 20u) << "the 20 columns the model reads, not the label";
  EXPECT_EQ(metadata["inputs"][1], (json{{"name", "duration"}, {"datatype", "FP64"}, {"shape", {-1}}}));
  EXPECT_EQ(metadata["outputs"][1], (json{{"name", "probabilities"}, {"datatype", "FP64"}, {"shape", {-1, 2}}}));
  json inputs = json::array();
  for (size_t c = 0; c + 1 < arff.columns.size(); ++c) {
    json data = json::array();
    for (size_t r = 40; r < 43; ++r) data.push_back(Cell(arff, r, c));
    inputs.push_back(
        {{"name", arff.columns[c]}, {"shape", {3}}, {"datatype", arff.numeric[c] ? "FP64" : "BYTES"}, {"data", data}});
  }
  Reply infer = client.Post("/v2/models/credit-risk/infer", json{{"id", "q-1"}, {"inputs", inputs}}.dump());
  ASSERT_EQ(infer.status, 200) << infer.body;
  const json answer = infer.Json();
  EXPECT_EQ(answer["id"], "q-1");
  EXPECT_EQ(answer["model_version"], "1");
  EXPECT_EQ(answer["outputs"][1]["shape"], json::array({3, 2}));
  for (size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(answer["outputs"][0]["data"][r], predicted[40 + r][1] == 0 ? "good" : "bad");
    EXPECT_NEAR(answer["outputs"][1]["data"][2 * r + 1].get<double>(), predicted[40 + r][3], 1e-6);
  }
  EXPECT_EQ(client.Get("/v2/health/ready").status, 200);
  EXPECT_EQ(client.Get("/ping").status, 200);
}

TEST_F(ServeTest, ATextModelEmbedsAsPredictDoes) {
  const std::string minilm = fs::path(DataFile("models/all-MiniLM-L6-v2/config.json")).parent_path();
  ASSERT_EQ(Sluice({"models", "import", minilm, "--name", "minilm"}).exit_code, 0);
  const std::vector<std::string> texts = {"The wheat harvest was larger than expected.",
                                          "Central banks raised interest rates again.", "", "Café crème, 東京!"};
  {
    std::ofstream out(dir_ / "texts.jsonl");
    for (const std::string& text : texts) out << json{{"text", text}}.dump() << "\n";
  }
  const auto predicted = Predicted("minilm", dir_ / "texts.jsonl");
  ASSERT_EQ(predicted.size(), texts.size());
  Server server = Serve({"minilm"});
  Client client(server.port);
  Reply reply = client.Post("/invocations", json{{"instances", texts}}.dump());
  ASSERT_EQ(reply.status, 200) << reply.body;
  const json predictions = reply.Json()["predictions"];
  ASSERT_EQ(predictions.size(), texts.size());
  for (size_t r = 0; r < texts.size(); ++r) {
    ASSERT_EQ(predictions[r]["embedding"].size(), 384u);
    for (size_t c = 0; c < 384; ++c) {
      ASSERT_NEAR(predictions[r]["embedding"][c].get<double>(), predicted[r][1 + c], 1e-6) << "text " << r;
    }
  }
  Reply infer = client.Post(
      "/v2/models/minilm/infer",
      json{{"inputs", {{{"name", "text"}, {"shape", {1}}, {"datatype", "BYTES"}, {"data", {texts[1]}}}}}}.dump());
  ASSERT_EQ(infer.status, 200) << infer.body;
  EXPECT_EQ(infer.Json()["outputs"][0]["shape"], json::array({1, 384}));
  EXPECT_NEAR(infer.Json()["outputs"][0]["data"][0].get<double>(), predicted[1][1], 1e-6);
  Reply wrong = client.Post("/invocations", R"({"instances": [12]})");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(wrong.Json()["error"], "row 1, column 'text': expected a string, got a number");

  // By default a text model gets an inference thread per core: concurrent clients, each
  // answered with its own text's embedding, whichever thread ran it.
  std::atomic<int> mismatched{0};
  std::vector<std::thread> clients;
  for (size_t t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      Client mine(server.port);
      for (size_t i = 0; i < 6; ++i) {
        const size_t r = (t + i) % texts.size();
        const Reply answer = mine.Post("/invocations", json{{"instances", {texts[r]}}}.dump());
        const json embedding = answer.status == 200 ? answer.Json()["predictions"][0]["embedding"] : json();
        bool same = embedding.size() == 384;
        for (size_t c = 0; same && c < 384; ++c)
          same = std::abs(embedding[c].get<double>() - predicted[r][1 + c]) < 1e-6;
        if (!same) ++mismatched;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(mismatched.load(), 0) << "concurrent requests answered with another text's embedding, or not at all";
  server.child->Signal(SIGTERM);
  const ProcessResult exited = server.child->Wait();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_NE(
      exited.err.find("minilm: model minilm v1 (following minilm), " + std::to_string(cores) + " inference thread"),
      std::string::npos)
      << exited.err;
}

TEST_F(ServeTest, AnImageModelTakesPixelTensorsAsPredictTakesIdxFiles) {
  const json run =
      SluiceJson({"run", kPipelines + "fashion_mnist_cnn.toml", "--set", "data.limit=2000", "--set", "train.epochs=1",
                  "--set", "train.warmup_steps=0", "--set", "model.channels=[8, 16]", "--set", "model.hidden=[32]"});
  ASSERT_EQ(run["status"], "succeeded") << run.dump();
  const std::string images = FashionMnist("t10k-images-idx3-ubyte.gz");
  const auto predicted = Predicted("fashion-mnist-cnn", images);
  idx::IdxArray pixels;
  ASSERT_TRUE(idx::ReadIdx(images, 3, pixels).ok());
  auto image = [&](size_t i) {
    std::vector<int> values(pixels.data.begin() + static_cast<std::ptrdiff_t>(i * 784),
                            pixels.data.begin() + static_cast<std::ptrdiff_t>((i + 1) * 784));
    return values;
  };
  Server server = Serve({"fashion-mnist-cnn"});
  Client client(server.port);
  EXPECT_EQ(client.Get("/v2/models/fashion-mnist-cnn").Json()["inputs"],
            json::array({{{"name", "pixels"}, {"datatype", "FP32"}, {"shape", {-1, 1, 28, 28}}}}));
  // MLflow's instances: one flat list of 784 values per image.
  Reply flat = client.Post("/invocations", json{{"instances", {image(0), image(1), image(2)}}}.dump());
  ASSERT_EQ(flat.status, 200) << flat.body;
  // KServe v2: one tensor [N, 1, 28, 28], its data flat.
  json data = json::array();
  for (size_t i = 3; i < 5; ++i) {
    for (int v : image(i)) data.push_back(v);
  }
  Reply tensor = client.Post(
      "/v2/models/fashion-mnist-cnn/infer",
      json{{"inputs", {{{"name", "pixels"}, {"shape", {2, 1, 28, 28}}, {"datatype", "UINT8"}, {"data", data}}}}}
          .dump());
  ASSERT_EQ(tensor.status, 200) << tensor.body;
  const json by_instances = flat.Json()["predictions"];
  const json probabilities = tensor.Json()["outputs"][1]["data"];
  for (size_t i = 0; i < 5; ++i) {
    for (size_t c = 0; c < 10; ++c) {
      const double served =
          i < 3 ? by_instances[i]["probabilities"][c].get<double>() : probabilities[(i - 3) * 10 + c].get<double>();
      ASSERT_NEAR(served, predicted[i][2 + c], 1e-6) << "image " << i << ", class " << c;
    }
  }
  Reply wrong = client.Post("/invocations", json{{"instances", {std::vector<int>(10, 0)}}}.dump());
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(wrong.Json()["error"], "row 1, column 'pixels': expected 784 pixel values (1x28x28), got 10");

  // bfloat16 says so, and answers within its precision.
  Server fast = Serve({"fashion-mnist-cnn", "--precision", "bf16"});
  Client fast_client(fast.port);
  EXPECT_EQ(fast_client.Get("/v2/models/fashion-mnist-cnn").Json()["parameters"]["precision"], "bf16");
  Reply approximate = fast_client.Post("/invocations", json{{"instances", {image(0), image(1), image(2)}}}.dump());
  ASSERT_EQ(approximate.status, 200) << approximate.body;
  for (size_t i = 0; i < 3; ++i) {
    for (size_t c = 0; c < 10; ++c) {
      EXPECT_NEAR(approximate.Json()["predictions"][i]["probabilities"][c].get<double>(), predicted[i][2 + c], 0.05)
          << "image " << i << ", class " << c;
    }
  }
}

// Every bad request gets its status and a message naming what is wrong; the server
// answers the next request as if nothing happened.
TEST_F(ServeTest, BadRequestsAreTheClientsErrorAndTheServerStaysUp) {
  TrainCreditRisk();
  const Arff arff = ReadArff(WekaExample("credit-g.arff"));
  Server server = Serve({"credit-risk"});
  json wrong_type = Record(arff, 0);
  wrong_type["duration"] = "twelve";
  json boolean = Record(arff, 0);
  boolean["age"] = true;
  json unknown = Record(arff, 0);
  unknown["salary"] = 1;
  json missing = Record(arff, 0);
  missing.erase("age");
  missing.erase("job");
  json short_row = SplitBody(arff, 0, 2);
  short_row["dataframe_split"]["data"][1].erase(0);
  const std::string reads =
      "; the model reads: checking_status, duration, credit_history, purpose, credit_amount, savings_status, "
      "employment, installment_commitment, personal_status, other_parties, residence_since, property_magnitude, "
      "age, other_payment_plans, housing, existing_credits, job, num_dependents, own_telephone, foreign_worker";
  struct Case {
    const char* what;
    bhttp::verb method;
    std::string target, body, content_type;
    int status;
    std::string error;  // exact, or a prefix when it ends with "..."
  };
  // The parser's message quotes the 100,000-byte string it stopped in: cut to 300 bytes.
  const std::string long_string_error =
      "[json.exception.parse_error.101] parse error at line 1, column 100025: syntax error while parsing value - "
      "invalid string: control character U+0001 (SOH) must be escaped to \\u0001; last read: '\"";
  const std::vector<Case> cases = {
      {"malformed JSON", bhttp::verb::post, "/invocations", "{\"instances\": [", "application/json", 400,
       "malformed JSON: [json.exception.parse_error.101] parse error at line 1, column 16: ..."},
      {"a number past a double", bhttp::verb::post, "/invocations", R"({"instances": [{"age": 1e400}]})",
       "application/json", 400, "malformed JSON: [json.exception.out_of_range.406] number overflow parsing '1e400'"},
      {"a bad character at the end of a long string", bhttp::verb::post, "/invocations",
       "{\"instances\": [{\"job\": \"" + std::string(100000, 'x') + "\x01\"}]}", "application/json", 400,
       "malformed JSON: " + long_string_error + std::string(300 - long_string_error.size(), 'x') +
           "... (100202 bytes)"},
      {"a million arrays deep (printing or walking it would overflow the stack)", bhttp::verb::post, "/invocations",
       R"({"instances": [{"age": )" + std::string(1000000, '[') + std::string(1000000, ']') + "}]}", "application/json",
       400, "the JSON nests arrays and objects deeper than 64 levels"},
      {"not an object", bhttp::verb::post, "/invocations", "[1, 2]", "application/json", 400,
       "the body must be a JSON object"},
      {"no known key", bhttp::verb::post, "/invocations", "{\"rows\": []}", "application/json", 400,
       "the body holds none of dataframe_split, dataframe_records, instances, inputs (MLflow's scoring formats)"},
      {"a word in a number column", bhttp::verb::post, "/invocations", json{{"dataframe_records", {wrong_type}}}.dump(),
       "application/json", 400, "row 1, column 'duration': 'twelve' is not a finite number"},
      {"a boolean", bhttp::verb::post, "/invocations", json{{"instances", {Record(arff, 1), boolean}}}.dump(),
       "application/json", 400, "row 2, column 'age': true is not a number, a string or null"},
      {"an unknown column", bhttp::verb::post, "/invocations", json{{"dataframe_records", {unknown}}}.dump(),
       "application/json", 400, "row 1: unknown column 'salary'" + reads},
      {"missing columns", bhttp::verb::post, "/invocations", json{{"dataframe_records", {missing}}}.dump(),
       "application/json", 400, "row 1: missing column 'age', 'job'" + reads},
      {"a short row", bhttp::verb::post, "/invocations", short_row.dump(), "application/json", 400,
       "dataframe_split: row 2 must be an array of 21 values, one per column"},
      {"a bad CSV row", bhttp::verb::post, "/invocations", "duration,age\n1,2,3\n", "text/csv", 400,
       "request:2: expected 2 fields, found 3"},
      {"an unsupported type", bhttp::verb::post, "/invocations", "duration=1", "application/x-www-form-urlencoded", 415,
       "Content-Type 'application/x-www-form-urlencoded': send application/json or text/csv"},
      {"an unknown model", bhttp::verb::post, "/models/fraud/invocations", "{}", "application/json", 404,
       "no model named 'fraud' is served here (serving: credit-risk)"},
      {"an unknown v2 model", bhttp::verb::get, "/v2/models/fraud", "", "", 404,
       "no model named 'fraud' is served here (serving: credit-risk)"},
      {"a version not served", bhttp::verb::post, "/v2/models/credit-risk/versions/7/infer", "{}", "application/json",
       404, "version 7 of credit-risk is not served here (serving version 1)"},
      {"an unknown route", bhttp::verb::get, "/admin", "", "", 404, "no route GET /admin; the routes are ..."},
      {"GET on a POST route", bhttp::verb::get, "/invocations", "", "", 405, "use POST /invocations"},
      {"v2 without inputs", bhttp::verb::post, "/v2/models/credit-risk/infer", "{\"id\": \"x\"}", "application/json",
       400, "the body must hold \"inputs\": an array of {name, shape, datatype, data}"},
      {"v2 shape against data", bhttp::verb::post, "/v2/models/credit-risk/infer",
       R"({"inputs": [{"name": "duration", "shape": [2], "datatype": "FP64", "data": [1]}]})", "application/json", 400,
       "input 'duration': 1 values for shape [2]"},
      {"v2 data a million arrays deep", bhttp::verb::post, "/v2/models/credit-risk/infer",
       R"({"inputs": [{"name": "duration", "shape": [1], "datatype": "FP64", "data": )" + std::string(1000000, '[') +
           "1" + std::string(1000000, ']') + "}]}",
       "application/json", 400, "the JSON nests arrays and objects deeper than 64 levels"},
      {"v2 datatype not a string", bhttp::verb::post, "/v2/models/credit-risk/infer",
       R"({"inputs": [{"name": "duration", "shape": [1], "datatype": 7, "data": [1]}]})", "application/json", 400,
       "input 'duration': datatype must be a string (FP32, BYTES, ...)"},
      {"v2 shape past int64", bhttp::verb::post, "/v2/models/credit-risk/infer",
       R"({"inputs": [{"name": "duration", "shape": [4611686018427387904, 4], "datatype": "FP64", "data": []}]})",
       "application/json", 400, "input 'duration': shape [4611686018427387904,4] has too many values"},
      {"v2 text in a number tensor", bhttp::verb::post, "/v2/models/credit-risk/infer",
       R"({"inputs": [{"name": "duration", "shape": [1], "datatype": "FP64", "data": ["x"]}]})", "application/json",
       400, "row 1, column 'duration': datatype FP64, but \"x\" is not a number"},
  };
  Client client(server.port);
  for (const Case& c : cases) {
    Client fresh(server.port);
    Reply reply = fresh.Call(c.method, c.target, c.body, c.content_type.empty() ? "application/json" : c.content_type);
    EXPECT_EQ(reply.status, c.status) << c.what << ": " << reply.body << reply.error;
    const json body = reply.Json();
    ASSERT_TRUE(body.is_object() && body.contains("error")) << c.what << ": " << reply.body;
    const std::string error = body["error"];
    if (c.error.size() > 3 && c.error.compare(c.error.size() - 3, 3, "...") == 0) {
      EXPECT_EQ(error.substr(0, c.error.size() - 3), c.error.substr(0, c.error.size() - 3)) << c.what;
    } else {
      EXPECT_EQ(error, c.error) << c.what;
    }
  }
  Reply good = client.Post("/invocations", SplitBody(arff, 0, 5).dump());
  EXPECT_EQ(good.status, 200) << good.body;
  const std::string metrics = client.Get("/metrics").body;
  EXPECT_NE(metrics.find("sluice_requests_total{model=\"credit-risk\",route=\"invocations\",code=\"400\"} 12"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("sluice_requests_total{model=\"credit-risk\",route=\"invocations\",code=\"200\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("sluice_model_version{model=\"credit-risk\",reference=\"credit-risk\"} 1"), std::string::npos)
      << metrics;
}

// Requests that share a forward pass are answered each for itself: one with a bad row
// gets its error, the others their predictions.
TEST_F(ServeTest, ABadRequestInABatchFailsAloneAndItsNeighboursAreAnswered) {
  TrainCreditRisk();
  const std::string input = WekaExample("credit-g.arff");
  const auto predicted = Predicted("credit-risk", input);
  const Arff arff = ReadArff(input);
  // The first request waits up to 2 s for others to join its batch: the three below
  // are sent at once and share it.
  Server server = Serve({"credit-risk", "--max-delay-ms", "2000"});
  json bad = SplitBody(arff, 5, 7);
  bad["dataframe_split"]["data"][1][1] = "twelve";
  auto send = [&](const json& body) {
    return std::async(std::launch::async,
                      [&server, text = body.dump()] { return Client(server.port).Post("/invocations", text); });
  };
  auto first = send(SplitBody(arff, 0, 3));
  auto second = send(bad);
  auto third = send(SplitBody(arff, 10, 12));
  const Reply a = first.get(), b = second.get(), c = third.get();
  ASSERT_EQ(a.status, 200) << a.body;
  ExpectSameAsPredicted(a.Json()["predictions"], predicted, 0, "first");
  EXPECT_EQ(b.status, 400) << b.body;
  EXPECT_EQ(b.Json()["error"], "row 2, column 'duration': 'twelve' is not a finite number");
  ASSERT_EQ(c.status, 200) << c.body;
  ExpectSameAsPredicted(c.Json()["predictions"], predicted, 10, "third");
  const std::string metrics = Client(server.port).Get("/metrics").body;
  EXPECT_NE(metrics.find("sluice_batch_rows_count{model=\"credit-risk\"} 4\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("sluice_batch_rows_sum{model=\"credit-risk\"} 14\n"), std::string::npos)
      << "one pass of all 7 rows, then each request alone (3, 2 and 2 rows):\n"
      << metrics;
}

TEST_F(ServeTest, LimitsStopOversizedSlowAndTooManyClientsWithoutStoppingOthers) {
  TrainCreditRisk();
  const Arff arff = ReadArff(WekaExample("credit-g.arff"));
  Server server = Serve({"credit-risk", "--max-body-mb", "0.01", "--request-timeout-s", "1", "--max-connections", "3"});
  const std::string one = SplitBody(arff, 0, 1).dump();
  {
    Client big(server.port);
    Reply reply = big.Post("/invocations", SplitBody(arff, 0, 100).dump());
    EXPECT_EQ(reply.status, 413) << reply.body << reply.error;
    EXPECT_EQ(reply.Json()["error"], "the body is over the limit of 10485 bytes (--max-body-mb)");
  }
  {
    // A client that sends half a request and falls silent is cut off; meanwhile another
    // is answered at once.
    Client slow(server.port);
    const std::string half = "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"inst";
    net::write(slow.socket(), net::buffer(half));
    Client other(server.port);
    EXPECT_EQ(other.Post("/invocations", one).status, 200);
    char byte;
    beast::error_code ec;
    net::read(slow.socket(), net::buffer(&byte, 1), ec);
    EXPECT_EQ(ec, net::error::eof) << "the server closes a connection whose request does not arrive: " << ec.message();
  }
  {
    Client a(server.port), b(server.port), c(server.port);
    EXPECT_EQ(a.Post("/invocations", one).status, 200);
    EXPECT_EQ(b.Post("/invocations", one).status, 200);
    EXPECT_EQ(c.Post("/invocations", one).status, 200);
    Client d(server.port);
    Reply refused = d.Get("/ping");
    EXPECT_EQ(refused.status, 503) << refused.error;
    EXPECT_EQ(refused.Json()["error"], "too many connections (3, --max-connections); try again");
    EXPECT_EQ(a.Post("/invocations", one).status, 200) << "the connections already open go on";
  }
}

// credit-g's 1,000 rows `copies` times over, as one dataframe_split body.
json RepeatedBody(const Arff& arff, int copies) {
  json body = SplitBody(arff, 0, 1000);
  json& data = body["dataframe_split"]["data"];
  for (int copy = 1; copy < copies; ++copy) {
    for (size_t r = 0; r < 1000; ++r) data.push_back(data[r]);
  }
  return body;
}

// credit-risk's big request, posted from a thread of its own; Started() returns once the
// server has run `batches` forward passes (its batch histogram says so), failing if the
// request was answered first.
class BigRequest {
 public:
  BigRequest(int port, std::string body)
      : thread_([this, port, body = std::move(body)] {
          Client client(port);
          reply_ = client.Post("/invocations", body);
          answered_ = true;
        }) {}
  ~BigRequest() {
    if (thread_.joinable()) thread_.join();
  }

  void Started(Client& client, int64_t batches) const {
    const std::string count = "sluice_batch_rows_count{model=\"credit-risk\"} ";
    for (;;) {
      const std::string metrics = client.Get("/metrics").body;
      const size_t at = metrics.find(count);
      ASSERT_NE(at, std::string::npos) << metrics;
      if (std::stoll(metrics.substr(at + count.size())) >= batches) return;
      ASSERT_FALSE(answered_) << "the big request ended before the test could send another";
    }
  }
  bool answered() const { return answered_; }
  const Reply& Wait() {
    thread_.join();
    return reply_;
  }

 private:
  Reply reply_;
  std::atomic<bool> answered_{false};
  std::thread thread_;
};

// A request larger than a batch runs a batch at a time, in turn with the others: one row
// sent while another client's 20,000 are being predicted is answered before them, and
// the big answer comes whole and in order.
TEST_F(ServeTest, ABigRequestDoesNotHoldUpSmallOnes) {
  TrainCreditRisk();
  const std::string input = WekaExample("credit-g.arff");
  const auto predicted = Predicted("credit-risk", input);
  const Arff arff = ReadArff(input);
  Server server = Serve({"credit-risk", "--max-batch", "1"});  // 20,000 forward passes
  BigRequest big(server.port, RepeatedBody(arff, 20).dump());
  Client client(server.port);
  big.Started(client, 100);
  Reply small = client.Post("/invocations", SplitBody(arff, 5, 6).dump());
  ASSERT_EQ(small.status, 200) << small.body << small.error;
  EXPECT_FALSE(big.answered()) << "the one-row request waited for the 20,000-row one";
  ExpectSameAsPredicted(small.Json()["predictions"], predicted, 5, "the small request");
  const Reply& big_reply = big.Wait();
  ASSERT_EQ(big_reply.status, 200) << big_reply.error;
  const json predictions = big_reply.Json()["predictions"];
  ASSERT_EQ(predictions.size(), 20000u);
  for (const size_t copy : {0, 7, 19}) {
    ExpectSameAsPredicted(
        json(std::vector<json>(predictions.begin() + copy * 1000, predictions.begin() + copy * 1000 + 1000)), predicted,
        0, "copy " + std::to_string(copy));
  }
}

// Resident memory of process `pid`, MB (VmRSS).
int64_t ResidentMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) / 1024;
  }
  return -1;
}

// sluice keeps the memory it frees for the next requests while it is busy; once idle, the
// server hands back what a big request took.
TEST_F(ServeTest, AnIdleServerHandsBackTheMemoryABigRequestTook) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "AddressSanitizer's allocator, not glibc's, holds the memory here (and quarantines what is freed)";
#endif
  TrainCreditRisk();
  const Arff arff = ReadArff(WekaExample("credit-g.arff"));
  Server server = Serve({"credit-risk"});
  Client client(server.port);
  ASSERT_EQ(client.Get("/ping").status, 200);
  const int64_t before = ResidentMb(server.child->pid());
  const Reply reply = client.Post("/invocations", RepeatedBody(arff, 40).dump());
  ASSERT_EQ(reply.status, 200) << reply.error;
  const int64_t after = ResidentMb(server.child->pid());
  ASSERT_GE(after - before, 40) << "the 40,000-row request took " << after - before << " MB (" << before
                                << " MB before it): too little to see it handed back";
  // Handed back after 2 s without work; looked for during a minute.
  const int64_t target = after - (after - before) / 3;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int64_t now = after;
  while (now > target && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    now = ResidentMb(server.child->pid());
  }
  EXPECT_LE(now, target) << "resident memory: " << before << " MB before the request, " << after << " MB after it, "
                         << now << " MB a minute later";
}

// The bodies being answered are bounded together (a parsed JSON body takes tens of times
// its size): past --max-in-flight-mb a request is told to try again, and is taken once
// the others are answered.
TEST_F(ServeTest, RequestBodiesInFlightAreBoundedTogether) {
  TrainCreditRisk();
  const Arff arff = ReadArff(WekaExample("credit-g.arff"));
  Server server = Serve({"credit-risk", "--max-batch", "1", "--max-in-flight-mb", "1"});
  const std::string body = RepeatedBody(arff, 20).dump();  // over 1 MB: taken, being alone
  BigRequest big(server.port, body);
  Client client(server.port);
  big.Started(client, 100);
  const std::string small = SplitBody(arff, 5, 6).dump();
  Reply busy = Client(server.port).Post("/invocations", small);
  EXPECT_FALSE(big.answered());
  EXPECT_EQ(busy.status, 503) << busy.body << busy.error;
  char expected[200];
  std::snprintf(expected, sizeof expected,
                "the server is answering %.1f MB of requests; this one's %zu bytes more would pass "
                "--max-in-flight-mb (1.0 MB); try again",
                static_cast<double>(body.size()) / (1 << 20), small.size());
  EXPECT_EQ(busy.Json()["error"], expected);
  const Reply& big_reply = big.Wait();
  ASSERT_EQ(big_reply.status, 200) << big_reply.error;
  EXPECT_EQ(Client(server.port).Post("/invocations", small).status, 200) << "taken once the big one was answered";
}

TEST_F(ServeTest, ConcurrentClientsAllGetTheirOwnRowsAnswered) {
  TrainCreditRisk();
  const std::string input = WekaExample("credit-g.arff");
  const auto predicted = Predicted("credit-risk", input);
  const Arff arff = ReadArff(input);
  Server server = Serve({"credit-risk", "--max-delay-ms", "2"});
  constexpr int kClients = 16, kRequests = 20;
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      Client client(server.port);
      for (int i = 0; i < kRequests; ++i) {
        const size_t begin = static_cast<size_t>((t * kRequests + i) * 3 % 990), end = begin + 1 + i % 3;
        Reply reply = client.Post("/invocations", SplitBody(arff, begin, end).dump());
        const json answer = reply.Json();
        bool ok = reply.status == 200 && answer["predictions"].size() == end - begin;
        for (size_t r = 0; ok && r < end - begin; ++r) {
          ok = std::abs(answer["predictions"][r]["probabilities"][1].get<double>() - predicted[begin + r][3]) < 1e-6;
        }
        if (!ok) ++wrong;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0) << "requests answered wrongly or not at all";
  const std::string metrics = Client(server.port).Get("/metrics").body;
  EXPECT_NE(metrics.find("sluice_requests_total{model=\"credit-risk\",route=\"invocations\",code=\"200\"} " +
                         std::to_string(kClients * kRequests)),
            std::string::npos)
      << metrics;
}

TEST_F(ServeTest, PromotingAnAliasUnderLoadSwitchesVersionsWithoutAFailedRequest) {
  TrainCreditRisk("1");
  TrainCreditRisk("2");
  ASSERT_EQ(Sluice({"models", "promote", "credit-risk", "1", "--alias", "production"}).exit_code, 0);
  const std::string input = WekaExample("credit-g.arff");
  const auto v1 = Predicted("credit-risk:1", input);
  const auto v2 = Predicted("credit-risk:2", input);
  ASSERT_NE(v1[0][3], v2[0][3]) << "the two versions must answer differently to tell them apart";
  const Arff arff = ReadArff(input);
  Server server = Serve({"credit-risk@production", "--poll-ms", "50"});
  const std::string body = SplitBody(arff, 0, 1).dump();

  std::atomic<bool> stop{false};
  std::atomic<int> failed{0}, mixed{0}, answered{0}, by_v2{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t) {
    clients.emplace_back([&] {
      Client client(server.port);
      while (!stop) {
        Reply reply = client.Post("/invocations", body);
        if (reply.status != 200) {
          ++failed;
          continue;
        }
        const double p = reply.Json()["predictions"][0]["probabilities"][1].get<double>();
        const auto& expected = reply.version == "2" ? v2 : v1;
        if (std::abs(p - expected[0][3]) > 1e-6) ++mixed;
        if (reply.version == "2") ++by_v2;
        ++answered;
      }
    });
  }
  auto wait_for = [](const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    return done();
  };
  ASSERT_TRUE(wait_for([&] { return answered >= 50; }));
  ASSERT_EQ(Sluice({"models", "promote", "credit-risk", "2", "--alias", "production"}).exit_code, 0);
  EXPECT_TRUE(wait_for([&] { return by_v2 >= 50; })) << "the server never switched to v2";
  stop = true;
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0) << "requests failed during the switch";
  EXPECT_EQ(mixed.load(), 0) << "an answer did not match the version it named";
  const json metadata = Client(server.port).Get("/v2/models/credit-risk").Json();
  EXPECT_EQ(metadata["versions"], json::array({"2"}));
  EXPECT_EQ(metadata["parameters"]["reference"], "credit-risk@production");
}

TEST_F(ServeTest, SigtermFinishesTheRequestsInFlightThenExitsZero) {
  TrainCreditRisk();
  const Arff arff = ReadArff(WekaExample("credit-g.arff"));
  // A request waits up to 3 s for others to share its batch: long enough to be in flight
  // when the signal comes.
  Server server = Serve({"credit-risk", "--max-delay-ms", "3000"});
  std::future<Reply> pending = std::async(
      std::launch::async, [&] { return Client(server.port).Post("/invocations", SplitBody(arff, 0, 2).dump()); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string metrics;
  while (std::chrono::steady_clock::now() < deadline) {
    metrics = Client(server.port).Get("/metrics").body;
    if (metrics.find("sluice_queue_rows{model=\"credit-risk\"} 2") != std::string::npos) break;
  }
  ASSERT_NE(metrics.find("sluice_queue_rows{model=\"credit-risk\"} 2"), std::string::npos) << metrics;
  server.child->Signal(SIGTERM);
  const Reply reply = pending.get();
  EXPECT_EQ(reply.status, 200) << reply.body << reply.error;
  EXPECT_EQ(reply.Json()["predictions"].size(), 2u);
  const ProcessResult exited = server.child->Wait();
  EXPECT_EQ(exited.exit_code, 0) << exited.err;
  EXPECT_NE(exited.err.find("sluice serve: stopped"), std::string::npos) << exited.err;
  EXPECT_FALSE(Client(server.port).Get("/ping").error.empty()) << "nothing listens after the exit";
}

TEST_F(ServeTest, ABearerTokenGuardsEverythingButHealth) {
  TrainCreditRisk();
  std::ofstream(dir_ / "token") << "s3cret-token\n";
  const ProcessResult open = Sluice({"serve", "credit-risk", "--host", "0.0.0.0"});
  EXPECT_EQ(open.exit_code, 2);
  EXPECT_NE(open.err.find("--host 0.0.0.0 lets other machines reach the models: pass --token-file FILE"),
            std::string::npos)
      << open.err;
  Server server = Serve({"credit-risk", "--token-file", dir_ / "token"});
  Client client(server.port);
  Reply none = client.Get("/v2/models/credit-risk");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.Json()["error"], "missing or wrong bearer token (Authorization: Bearer ...)");
  EXPECT_EQ(client.Call(bhttp::verb::get, "/metrics", "", "", "wrong-token").status, 401);
  EXPECT_EQ(client.Call(bhttp::verb::get, "/v2/models/credit-risk", "", "", "s3cret-token").status, 200);
  EXPECT_EQ(client.Get("/v2/health/live").status, 200) << "probes need no token";
}

TEST_F(ServeTest, SeveralModelsAreServedEachUnderItsName) {
  TrainCreditRisk();
  ASSERT_EQ(SluiceJson({"run", kPipelines + "breast_cancer.toml", "--set", "train.epochs=2"})["status"], "succeeded");
  const ProcessResult twice = Sluice({"serve", "credit-risk", "credit-risk:1"});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.err.find("two models would be served as 'credit-risk'; serve each name once"), std::string::npos)
      << twice.err;
  Server server = Serve({"credit-risk", "breast-cancer"});
  Client client(server.port);
  Reply ambiguous = client.Post("/invocations", "{}");
  EXPECT_EQ(ambiguous.status, 400);
  EXPECT_EQ(ambiguous.Json()["error"], "serving 2 models (breast-cancer, credit-risk): POST /models/NAME/invocations");
  EXPECT_EQ(client.Get("/v2/models/breast-cancer").Json()["name"], "breast-cancer");
  const json health = client.Get("/health").Json();
  EXPECT_EQ(health["models"], (json{{"breast-cancer", 1}, {"credit-risk", 1}}));
}

}  // namespace
}  // namespace sluice::testing
