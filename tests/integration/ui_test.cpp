// `sluice ui` as users run it: a real server on a loopback port over a store made by real
// runs (test-objective's runs and a sweep, credit-risk trained and registered). The API
// answers in the CLI's JSON shapes, pages, filters and downsamples; artifacts are served
// only as the store recorded them; and, in headless Chromium, the pages show it all and
// sorting, filtering, comparing and live updates work by interaction.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kPipelines = std::string(SLUICE_TEST_SOURCE_DIR) + "/../pipelines/";

// One store for the whole suite (its runs take a while to make); each test starts its own
// `sluice ui` over it, and none writes to it except the live-update test's own run.
class UiTest : public ::testing::Test {
 protected:
  struct Made {
    std::unique_ptr<TempDir> dir;
    std::vector<std::string> quad_runs;  // x = 1, 2, 3 (the first logs 5000 curve points)
    std::string failed_run, trained_run, study;
    int study_trials = 0, study_pruned = 0;
  };
  static Made* made_;

  static ProcessOptions Options() {
    return ProcessOptions{made_->dir->path().string(),
                          {{"SLUICE_PLUGIN_PATH", std::string(SLUICE_TEST_PLUGIN_DIR) + "/objective"},
                           {"SLUICE_STORE", made_->dir->path() / "store"}},
                          {}};
  }
  static json Sluice(std::vector<std::string> args, int expected_exit = 0) {
    args.insert(args.begin(), SluiceBinary());
    args.push_back("--json");
    const ProcessResult r = RunProcess(args, Options());
    EXPECT_EQ(r.exit_code, expected_exit) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  static void SetUpTestSuite() {
    made_ = new Made;
    made_->dir = std::make_unique<TempDir>();
    made_->dir->Write("quad.toml",
                      "[pipeline]\nname = \"quad\"\nseed = 3\n\n[stages.f]\nplugin = \"test-objective\"\n");
    made_->dir->Write("sweep.toml",
                      "[pipeline]\nname = \"quad-sweep\"\n\n[stages.f]\nplugin = \"test-objective\"\nepochs = 9\n\n"
                      "[sweep]\nmetric = \"f.value\"\ndirection = \"minimize\"\nsampler = \"random\"\ntrials = 16\n"
                      "seed = 2\npruner = \"asha\"\nprune_metric = \"f.curve\"\n\n[sweep.space]\n\"f.x\" = { uniform = "
                      "[-4.0, 4.0] }\n\"f.n\" = { int = [1, 8] }\n");
    for (const auto& [x, epochs] : {std::pair{"1.0", "5000"}, std::pair{"2.0", "50"}, std::pair{"3.0", "50"}}) {
      made_->quad_runs.push_back(Sluice(
          {"run", "quad.toml", "--set", std::string("f.x=") + x, "--set", std::string("f.epochs=") + epochs})["id"]);
    }
    made_->failed_run = Sluice({"run", "quad.toml", "--set", "f.x=5.0", "--set", "f.fail_above=4.0"}, 1)["id"];
    const json trained = Sluice({"run", kPipelines + "credit_risk.toml", "--set", "train.epochs=3"});
    ASSERT_EQ(trained["status"], "succeeded") << trained.dump();
    made_->trained_run = trained["id"];
    const json study = Sluice({"sweep", "sweep.toml"});
    made_->study = study["study"];
    made_->study_trials = study["trials"];
    made_->study_pruned = study["pruned"];
  }
  static void TearDownTestSuite() {
    delete made_;
    made_ = nullptr;
  }

  // `sluice ui --port 0` over the suite's store, once it listens.
  struct Ui {
    std::unique_ptr<Child> child;
    uint16_t port = 0;
  };
  static Ui Start() {
    Ui ui;
    ui.child = std::make_unique<Child>(std::vector<std::string>{SluiceBinary(), "ui", "--port", "0"}, Options());
    ui.port = ListeningPort(*ui.child);
    EXPECT_NE(ui.port, 0) << "sluice ui stopped before listening";
    return ui;
  }
};

UiTest::Made* UiTest::made_ = nullptr;

TEST_F(UiTest, RunsAreListedFilteredSortedAndPagedAsTheCliDoes) {
  Ui ui = Start();
  Client client(ui.port);
  Reply all = client.Get("/api/runs?limit=100");
  ASSERT_EQ(all.status, 200) << all.body;
  const json cli = Sluice({"runs", "list", "--limit", "0"});
  ASSERT_EQ(all.Json().size(), cli.size());
  EXPECT_EQ(all.Header("X-Total-Count"), std::to_string(cli.size()));
  for (size_t i = 0; i < cli.size(); ++i) {
    for (const char* field : {"id", "pipeline", "status", "started_at", "ended_at", "error", "metrics"}) {
      EXPECT_EQ(all.Json()[i][field], cli[i][field]) << field << " of run " << i;
    }
  }
  for (const auto& r : all.Json()) EXPECT_TRUE(r["params"].contains("pipeline.seed")) << "every run has its parameters";

  // Pages: two at a time, the count of all.
  Reply page = client.Get("/api/runs?limit=2&offset=2");
  ASSERT_EQ(page.Json().size(), 2u);
  EXPECT_EQ(page.Json()[0]["id"], cli[2]["id"]);
  EXPECT_EQ(page.Header("X-Total-Count"), std::to_string(cli.size()));

  // The --where language and --order-by, through the URL.
  Reply filtered =
      client.Get("/api/runs?where=" + std::string("pipeline%20%3D%20%22quad%22%20and%20params.f.x%20%3E%201.5") +
                 "&order_by=metrics.f.value%20desc");
  ASSERT_EQ(filtered.status, 200) << filtered.body;
  ASSERT_EQ(filtered.Json().size(), 3u) << "x = 2, 3 and the failed x = 5";
  EXPECT_EQ(filtered.Json()[0]["id"], made_->quad_runs[2]) << "x = 3 has the highest f.value of those that logged it";
  EXPECT_EQ(filtered.Json()[1]["id"], made_->quad_runs[1]);
  EXPECT_EQ(filtered.Json()[2]["id"], made_->failed_run) << "a run without the metric sorts last";
  EXPECT_EQ(filtered.Header("X-Total-Count"), "3");

  Reply bad = client.Get("/api/runs?where=metrics.f.value%20%3E");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json()["error"],
            "where: expected a value (a number or a quoted string) after '>'\n"
            "  metrics.f.value >\n"
            "                   ^");
  EXPECT_EQ(bad.Json()["column"], 17);
  EXPECT_EQ(client.Get("/api/runs?limit=0").status, 400);
  EXPECT_EQ(client.Get("/api/runs?limit=ten").Json()["error"],
            "query parameter 'limit': expected a whole number from 1 to 5000");
  EXPECT_EQ(client.Get("/api/runs?status=sleeping").Json()["error"], "unknown status 'sleeping'");

  // Columns beyond the latest values: a series' lowest and highest, its value at a step,
  // any field of the --where language (f.curve = value + 10 / e for e = 1..5000).
  Reply stats = client.Get("/api/runs?where=id%20%3D%20%22" + made_->quad_runs[0] +
                           "%22&field=min(metrics.f.curve)&field=max(metrics.f.curve)&field=metrics.f.curve@4"
                           "&field=params.f.x&field=metrics.f.curve@0");
  ASSERT_EQ(stats.status, 200) << stats.body;
  const json run = stats.Json().at(0);
  const json& fields = run["fields"];
  const double value = run["metrics"]["f.value"];
  EXPECT_NEAR(fields["min(metrics.f.curve)"].get<double>(), value + 10.0 / 5000, 1e-12) << fields.dump();
  EXPECT_NEAR(fields["max(metrics.f.curve)"].get<double>(), value + 10.0, 1e-12);
  EXPECT_NEAR(fields["metrics.f.curve@4"].get<double>(), value + 2.5, 1e-12);
  EXPECT_EQ(fields["params.f.x"], 1.0);
  EXPECT_TRUE(fields["metrics.f.curve@0"].is_null()) << "nothing was logged by step 0";
  EXPECT_FALSE(client.Get("/api/runs?limit=1").Json()[0].contains("fields")) << "none asked for";
  EXPECT_EQ(client.Get("/api/runs?field=max(params.f.x)").Json()["error"],
            "field: max( takes one metric: max(metrics.STAGE.KEY)\n  max(params.f.x)\n      ^");

  // The columns: every key any run has.
  const json columns = client.Get("/api/columns").Json();
  for (const char* key : {"f.x", "f.epochs", "train.lr", "pipeline.seed"}) {
    EXPECT_NE(std::find(columns["params"].begin(), columns["params"].end(), key), columns["params"].end()) << key;
  }
  for (const char* key : {"f.curve", "f.value", "eval.accuracy", "train.loss"}) {
    EXPECT_NE(std::find(columns["metrics"].begin(), columns["metrics"].end(), key), columns["metrics"].end()) << key;
  }
}

TEST_F(UiTest, ARunIsWhatRunsShowPrintsWithEachMetricsRange) {
  Ui ui = Start();
  Client client(ui.port);
  const std::string id = made_->quad_runs[0];
  Reply reply = client.Get("/api/runs/" + id.substr(0, 8));
  ASSERT_EQ(reply.status, 200) << reply.body;
  const json run = reply.Json();
  const json cli = Sluice({"runs", "show", id});
  for (const char* field : {"id", "status", "params", "metrics", "stages", "artifacts", "environment"}) {
    EXPECT_EQ(run[field], cli[field]) << field;
  }
  // f.curve = value + 10 / e for e = 1..5000.
  const double value = run["metrics"]["f.value"];
  const json& curve = run["metric_stats"]["f.curve"];
  EXPECT_EQ(curve["points"], 5000);
  EXPECT_EQ(curve["step"], 5000);
  EXPECT_NEAR(curve["max"].get<double>(), value + 10, 1e-9);
  EXPECT_NEAR(curve["min"].get<double>(), value + 10.0 / 5000, 1e-9);
  EXPECT_NEAR(curve["latest"].get<double>(), value + 10.0 / 5000, 1e-9);
  ASSERT_EQ(run["stage_times"].size(), 1u);
  EXPECT_EQ(run["stage_times"][0]["name"], "f");

  Reply failed = client.Get("/api/runs/" + made_->failed_run);
  EXPECT_EQ(failed.Json()["status"], "failed");
  EXPECT_NE(failed.Json()["error"].get<std::string>().find("is out of bounds"), std::string::npos) << failed.body;
  Reply unknown = client.Get("/api/runs/ffffffff");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.Json()["error"].get<std::string>().rfind("no run matches 'ffffffff'", 0), 0u) << unknown.body;
}

TEST_F(UiTest, SeriesAreSmoothedThenDownsampledOnTheServer) {
  Ui ui = Start();
  Client client(ui.port);
  const std::string id = made_->quad_runs[0];
  const json full = Sluice({"runs", "metrics", id, "f.curve"});
  ASSERT_EQ(full.size(), 5000u);

  Reply reply = client.Get("/api/runs/" + id + "/metrics/f.curve");
  ASSERT_EQ(reply.status, 200) << reply.body;
  json s = reply.Json();
  EXPECT_EQ(s["total"], 5000);
  ASSERT_EQ(s["step"].size(), 2000u) << "at most 2000 points by default";
  EXPECT_EQ(s["step"].front(), 1);
  EXPECT_EQ(s["step"].back(), 5000) << "the first and last points are always kept";
  for (size_t i = 0; i < s["step"].size(); ++i) {
    const int64_t step = s["step"][i];
    ASSERT_EQ(s["value"][i], full[static_cast<size_t>(step - 1)]["value"]) << "each kept point is a logged point";
    if (i > 0) {
      ASSERT_GT(step, s["step"][i - 1].get<int64_t>()) << "in step order";
    }
  }
  // The shape survives: between kept points, straight lines stay within 5% of the curve's
  // range of every logged point, where it falls steeply (10, 5, 3.3, 2.5, ...) as where it
  // is flat. Keeping every 2.5th point instead misses step 2 by 1.67, 17%.
  double worst = 0;
  size_t k = 0;
  for (size_t step = 1; step <= 5000; ++step) {
    while (s["step"][k + 1].get<size_t>() < step) ++k;
    const double x0 = s["step"][k], x1 = s["step"][k + 1], y0 = s["value"][k], y1 = s["value"][k + 1];
    const double line = y0 + (y1 - y0) * (static_cast<double>(step) - x0) / (x1 - x0);
    worst = std::max(worst, std::abs(line - full[step - 1]["value"].get<double>()));
  }
  EXPECT_LT(worst, 0.05 * 10) << "the curve spans 10";

  // Smoothing first (TensorBoard's debiased EMA), then the downsampling.
  s = client.Get("/api/runs/" + id + "/metrics/f.curve?points=50&smoothing=0.9").Json();
  ASSERT_EQ(s["smoothed"].size(), 50u);
  EXPECT_EQ(s["smoothed"][0], s["value"][0]) << "debiased: the first smoothed point is the first value";
  std::vector<double> smoothed;
  double ema = 0;
  for (size_t e = 1; e <= full.size(); ++e) {
    ema = 0.9 * ema + 0.1 * full[e - 1]["value"].get<double>();
    smoothed.push_back(ema / (1 - std::pow(0.9, static_cast<double>(e))));
  }
  for (size_t i = 0; i < s["step"].size(); ++i) {
    const auto step = s["step"][i].get<size_t>();
    EXPECT_NEAR(s["smoothed"][i].get<double>(), smoothed[step - 1], 1e-9) << "step " << step;
  }
  EXPECT_EQ(client.Get("/api/runs/" + id + "/metrics/f.curve?points=2").status, 400);
  EXPECT_EQ(client.Get("/api/runs/" + id + "/metrics/f.curve?smoothing=1").Json()["error"],
            "query parameter 'smoothing': expected a number from 0 to 0.999");
  Reply missing = client.Get("/api/runs/" + id + "/metrics/no.such");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.Json()["error"], "run " + id + " has no metric 'no.such'");

  // Several series in one request (a run page's first screen), in the order asked, each
  // as it comes alone; a key that needs encoding comes back as logged.
  reply = client.Get("/api/runs/" + id + "/metrics?key=f.value&key=f.curve&points=50&smoothing=0.9");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const json batch = reply.Json();
  ASSERT_EQ(batch.size(), 2u) << batch.dump().substr(0, 300);
  EXPECT_EQ(batch[0]["key"], "f.value");
  EXPECT_EQ(batch[1], s) << "the same series as asked for alone";
  json untimed = client.Get("/api/runs/" + id + "/metrics?key=f.curve&points=50&smoothing=0.9&time=0").Json()[0];
  EXPECT_FALSE(untimed.contains("time")) << "time=0 leaves the times out";
  untimed["time"] = s["time"];
  EXPECT_EQ(untimed, s) << "and nothing else";
  EXPECT_EQ(client.Get("/api/runs/" + id + "/metrics?key=f.curve&key=no%2Esuch").Json()["error"],
            "run " + id + " has no metric 'no.such'");
  EXPECT_EQ(client.Get("/api/runs/" + id + "/metrics").Json()["error"], "name the series: ?key=KEY (one or more)");
}

TEST_F(UiTest, ArtifactsAreServedAsRecordedAndNoUrlLeavesTheStore) {
  Ui ui = Start();
  Client client(ui.port);
  const json run = Sluice({"runs", "show", made_->trained_run});
  json svg;
  for (const auto& a : run["artifacts"]) {
    if (fs::path(a["path"].get<std::string>()).extension() == ".svg") svg = a;
  }
  ASSERT_FALSE(svg.is_null()) << run["artifacts"].dump();
  const std::string base = "/api/runs/" + made_->trained_run + "/artifacts/";
  Reply image = client.Get(base + svg["stage"].get<std::string>() + "/" + svg["name"].get<std::string>());
  ASSERT_EQ(image.status, 200) << image.body;
  EXPECT_EQ(image.Header("Content-Type"), "image/svg+xml");
  EXPECT_EQ(image.Header("Content-Security-Policy").rfind("default-src 'none'", 0), 0u)
      << "an SVG opened alone runs no script";
  std::ifstream file(svg["path"].get<std::string>(), std::ios::binary);
  std::stringstream bytes;
  bytes << file.rdbuf();
  EXPECT_EQ(image.body, bytes.str());

  // Only what the run recorded, by stage and name: no path from the URL reaches a file.
  for (const std::string& target :
       {base + "..%2F..%2F..%2Fetc/passwd", base + "train/..%2F..%2Fruns.db", base + "%2e%2e/%2e%2e/runs.db",
        std::string("/api/runs/") + made_->trained_run + "/artifacts/%2Fetc%2Fpasswd/x",
        std::string("/../../etc/passwd"), std::string("/assets/../../runs.db"), std::string("/runs.db")}) {
    Reply r = client.Get(target);
    EXPECT_EQ(r.status, 404) << target << ": " << r.body;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
  }
  EXPECT_EQ(client.Get(base + "train/model%zz").status, 400) << "malformed percent-encoding";
  Reply post = client.Post("/api/runs", "{}");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.Json()["error"], "sluice ui is read-only: GET only");
}

TEST_F(UiTest, StudiesAndModelsAreWhatTheCliPrints) {
  Ui ui = Start();
  Client client(ui.port);
  EXPECT_EQ(client.Get("/api/studies").Json(), Sluice({"studies", "list"}));
  const json study = client.Get("/api/studies/" + made_->study).Json();
  EXPECT_EQ(study, Sluice({"studies", "show", made_->study}));
  EXPECT_EQ(study["trials"].size(), static_cast<size_t>(made_->study_trials));
  EXPECT_EQ(study["direction"], "minimize");
  EXPECT_EQ(client.Get("/api/studies/nothing").status, 404);

  const json models = client.Get("/api/models").Json();
  const json cli = Sluice({"models", "list"});
  ASSERT_EQ(models.size(), cli.size());
  ASSERT_EQ(models.size(), 1u);
  for (const char* field : {"name", "version", "aliases", "run_id", "created_at"}) {
    EXPECT_EQ(models[0][field], cli[0][field]) << field;
  }
  EXPECT_EQ(models[0]["metrics"]["eval.accuracy"],
            Sluice({"runs", "show", made_->trained_run})["metrics"]["eval.accuracy"]);
}

TEST_F(UiTest, PagesAndTheirAssetsComeFromTheBinary) {
  Ui ui = Start();
  Client client(ui.port);
  for (const char* page : {"/", "/runs/abc", "/studies", "/studies/abc", "/models", "/compare?runs=a,b"}) {
    Reply r = client.Get(page);
    EXPECT_EQ(r.status, 200) << page;
    EXPECT_EQ(r.Header("Content-Type"), "text/html; charset=utf-8") << page;
    EXPECT_NE(r.body.find("<script src=\"/assets/app.js\">"), std::string::npos) << page;
  }
  // A run page carries its run, as the API answers it but with the keys of its charts in
  // place of the metrics' statistics, for its first script to take; no "<" inside it can
  // end the element (the failed run's error is kept whole).
  for (const std::string& id : {made_->failed_run, made_->trained_run}) {
    const std::string html = client.Get("/runs/" + id.substr(0, 8)).body;
    const std::string open = "<script type=\"application/json\" id=\"sluice-run\">";
    const size_t begin = html.find(open), end = html.find("</script>", begin);
    ASSERT_NE(begin, std::string::npos) << html.substr(0, 400);
    ASSERT_LT(begin, html.find("<script>")) << "before the script that takes it";
    const std::string inline_run = html.substr(begin + open.size(), end - begin - open.size());
    EXPECT_EQ(inline_run.find('<'), std::string::npos);
    json page = json::parse(inline_run), api = client.Get("/api/runs/" + id).Json();
    json curves = json::array();
    for (const auto& [key, stats] : api["metric_stats"].items()) {
      if (stats["points"] > 1) curves.push_back(key);
    }
    EXPECT_EQ(page["chart_keys"], curves) << "the series with more than one point";
    page.erase("chart_keys");
    api.erase("metric_stats");
    EXPECT_EQ(page, api);
  }
  EXPECT_EQ(client.Get("/runs/abc").body.find("id=\"sluice-run\""), std::string::npos) << "no such run: the page asks";

  Reply uplot = client.Get("/assets/uplot.js");
  EXPECT_EQ(uplot.status, 200);
  EXPECT_NE(uplot.body.find("uPlot"), std::string::npos);
  EXPECT_EQ(client.Get("/assets/nothing.js").status, 404);
  EXPECT_EQ(client.Get("/no/such/page").Json()["error"], "no page here");

  // HEAD: a GET's headers, Content-Length included, and no body (the next answer on the
  // connection follows the headers directly).
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), ui.port));
  const std::string requests =
      "HEAD /assets/app.js HTTP/1.1\r\nHost: x\r\n\r\nGET /api/columns HTTP/1.1\r\nHost: x\r\nConnection: "
      "close\r\n\r\n";
  net::write(socket, net::buffer(requests));
  std::string answer;
  beast::error_code ec;
  for (char buf[4096];;) {
    const size_t n = socket.read_some(net::buffer(buf), ec);
    answer.append(buf, n);
    if (ec) break;
  }
  const size_t second = answer.find("HTTP/1.1 200", 1);
  ASSERT_NE(second, std::string::npos) << answer.substr(0, 400);
  EXPECT_EQ(answer.compare(second - 4, 4, "\r\n\r\n"), 0) << "the HEAD answer carried a body";
  EXPECT_NE(
      answer.substr(0, second).find("Content-Length: " + std::to_string(client.Get("/assets/app.js").body.size())),
      std::string::npos)
      << answer.substr(0, second);
}

// The pages in headless Chromium (tests/ui/browser_test.js): what they show, and sorting,
// filtering, comparing and a running run's live update by interaction. Screenshots are
// kept in the build folder's tests/ui-screenshots.
TEST_F(UiTest, ThePagesWorkInABrowser) {
  // A run that waits while a flag file exists: running when the page opens.
  const fs::path flag = made_->dir->path() / "hang.flag";
  std::ofstream(flag) << "wait\n";
  Child running({SluiceBinary(), "run", "quad.toml", "--set", "f.hang_while=" + flag.string(), "--set", "f.x=0.5"},
                Options());
  ASSERT_TRUE(running.WaitForLine([](const std::string& line) {
    return line.find("hanging while") != std::string::npos;
  })) << "the run did not start";
  const json latest = Sluice({"runs", "list", "--limit", "1", "--status", "running"});
  ASSERT_EQ(latest.size(), 1u);

  Ui ui = Start();
  const json runs = Sluice({"runs", "list", "--limit", "0"});
  const json expected = {{"runs", runs.size()},
                         {"running", latest[0]["id"]},
                         {"pipelines",
                          [&] {
                            std::set<std::string> names;
                            for (const auto& r : runs) names.insert(r["pipeline"].get<std::string>());
                            return names.size();
                          }()},
                         {"hang_flag", flag.string()},
                         {"x_above", Sluice({"runs", "list", "--limit", "0", "--where", "params.f.x > 1.5"}).size()},
                         {"compare", {made_->quad_runs[0], made_->quad_runs[1]}},
                         {"long_run", made_->quad_runs[0]},
                         {"long_curve",
                          [&] {
                            const json points = Sluice({"runs", "metrics", made_->quad_runs[0], "f.curve"});
                            double lo = INFINITY, hi = -INFINITY, at_4 = NAN;
                            for (const json& p : points) {
                              lo = std::min(lo, p["value"].get<double>());
                              hi = std::max(hi, p["value"].get<double>());
                              if (p["step"] == 4) at_4 = p["value"];
                            }
                            return json{{"min", lo}, {"max", hi}, {"at_4", at_4}};
                          }()},
                         {"trained_run", made_->trained_run},
                         {"trained_stages", Sluice({"runs", "show", made_->trained_run})["stages"].size()},
                         {"study", made_->study},
                         {"study_trials", made_->study_trials},
                         {"study_values", made_->study_trials},
                         {"study_pruned", made_->study_pruned},
                         {"study_importance", Sluice({"studies", "show", made_->study})["importance"].size()}};
  ASSERT_GT(made_->study_pruned, 0) << "ASHA pruned none of the study's trials";
  const fs::path shots = fs::path(SLUICE_TEST_BINARY_DIR) / "ui-screenshots";
  ProcessOptions options;
  options.env = {{"SLUICE_UI_URL", "http://127.0.0.1:" + std::to_string(ui.port)},
                 {"SLUICE_UI_CASE", expected.dump()},
                 {"SLUICE_UI_SHOTS", shots.string()}};
  std::string node;
  for (const char* dir : {"/usr/bin", "/usr/local/bin"}) {
    if (node.empty() && fs::exists(fs::path(dir) / "node")) node = fs::path(dir) / "node";
  }
  ASSERT_FALSE(node.empty()) << "no node (Debian's nodejs): tools/setup installs it, with chromium";
  const ProcessResult browser =
      RunProcess({node, std::string(SLUICE_TEST_SOURCE_DIR) + "/ui/browser_test.js"}, options);
  EXPECT_EQ(browser.exit_code, 0) << browser.out << browser.err;
  std::cout << browser.out;
  const ProcessResult finished = running.Wait();
  EXPECT_EQ(finished.exit_code, 0) << finished.err;
}

}  // namespace
}  // namespace sluice::testing
