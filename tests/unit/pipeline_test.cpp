// Parsing and validating pipelines against contracts (no plugin libraries involved).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>

#include "data/data_path.hpp"
#include "pipeline/builder.hpp"
#include "pipeline/diagnostics.hpp"
#include "pipeline/resolved.hpp"
#include "pipeline/spec.hpp"
#include "temp_dir.hpp"

namespace sluice::pipeline {
namespace {

plugin::PluginRegistry TestRegistry() {
  return plugin::PluginRegistry::FromContracts({
      Contract("source", "1.0.0", Kind::kData)
          .output("data", ports::kDataset)
          .param(RequiredParam("dir", ParamType::kString).format(StringFormat::kDirectory))
          .param(FloatParam("fraction", 0.1).range(0, 0.9)),
      Contract("net", "1.0.0", Kind::kModel)
          .output("model", ports::kModel)
          .param(IntListParam("hidden", {8}).min(1))
          .param(ChoiceParam("activation", "relu", {"relu", "tanh"})),
      Contract("fit", "1.0.0", Kind::kTrain)
          .input("data", ports::kDataset)
          .input("model", ports::kModel)
          .output("model", ports::kTrainedModel)
          .param(FloatParam("lr", 0.01).greater_than(0))
          .param(IntParam("epochs", 1).min(1))
          .param(SeedParam()),
      Contract("judge", "1.0.0", Kind::kEval)
          .input("data", ports::kDataset)
          .input("model", ports::kTrainedModel)
          .param(StringParam("label", "none")),
      Contract("relay", "1.0.0", Kind::kOther).optional_input("in", "blob").output("out", "blob"),
  });
}

struct Checked {
  std::optional<ResolvedPipeline> pipeline;
  std::string errors;
};

Checked Check(const std::string& toml, const std::vector<std::string>& overrides = {}) {
  static const plugin::PluginRegistry registry = TestRegistry();
  SourceTexts texts;
  Diagnostics diag;
  PipelineSpec spec = ParsePipeline("p.toml", toml, texts, diag);
  ApplyOverrides(spec, overrides, texts, diag);
  Checked out;
  out.pipeline = Validate(spec, registry, diag);
  out.errors = diag.Render(texts);
  if (!diag.empty()) out.pipeline.reset();
  return out;
}

const char* kGood = R"(
[pipeline]
name = "demo"
seed = 5

[stages.judge]
plugin = "judge"
inputs = { data = "data", model = "fit" }

[stages.fit]
plugin = "fit"
inputs = { data = "data", model = "net" }
lr = 1

[stages.net]
plugin = "net"

[stages.data]
plugin = "source"
dir = "/tmp"
)";

TEST(PipelineTest, ResolvesDefaultsOrderAndWiring) {
  Checked c = Check(kGood);
  ASSERT_TRUE(c.pipeline) << c.errors;
  const ResolvedPipeline& p = *c.pipeline;
  EXPECT_EQ(p.name, "demo");
  // Dependencies first; otherwise the file's order.
  std::vector<std::string> order;
  for (const auto& s : p.stages) order.push_back(s.name);
  EXPECT_EQ(order, (std::vector<std::string>{"net", "data", "fit", "judge"}));
  const ResolvedStage& fit = p.stages[2];
  EXPECT_DOUBLE_EQ(fit.params.Float("lr"), 1.0);  // an integer given for a float
  EXPECT_EQ(fit.params.Int("epochs"), 1);         // default
  EXPECT_EQ(static_cast<uint64_t>(fit.params.Int("seed")), StageSeed(5, "fit"));
  ASSERT_EQ(fit.inputs.size(), 2u);
  EXPECT_EQ(fit.inputs[0].from_stage, "data");
  EXPECT_EQ(fit.inputs[0].from_port, "data");
  auto params = p.ParamsJson();
  EXPECT_EQ(params.at("net.hidden"), "[8]");
  EXPECT_EQ(params.at("net.activation"), "\"relu\"");
  EXPECT_EQ(params.at("pipeline.seed"), "5");
}

// Pipelines the host builds in code (predict, trials, resumed runs) are checked exactly
// as files are, with problems reported against where they came from.
TEST(PipelineTest, ABuiltPipelineIsValidatedLikeAFile) {
  const plugin::PluginRegistry registry = TestRegistry();
  PipelineBuilder b("built", "sluice predict");
  b.Seed(3);
  b.Stage("model", "net").Param("hidden", Value(std::vector<int64_t>{16, 8})).RecordedVersion("1.0.0");
  b.Stage("fit", "fit").Input("model", "model.model").Param("lr", Value(0.5));
  Diagnostics diag;
  std::optional<ResolvedPipeline> p = b.Validate(registry, "retrain", diag);
  EXPECT_FALSE(p);  // fit's data input is not wired
  EXPECT_EQ(
      diag.Render(SourceTexts()),
      "sluice predict: error: stage 'fit' (plugin fit) needs input 'data' (dataset): add inputs = { data = \"STAGE\" "
      "}\n1 error\n");

  PipelineBuilder ok("built", "sluice predict");
  ok.Stage("model", "net").Param("hidden", Value(std::vector<int64_t>{16, 8})).RecordedVersion("1.0.0");
  ASSERT_TRUE(ok.Set("model.activation", RawValueFromValue(Value(std::string("tanh")), ok.here())));
  EXPECT_FALSE(ok.Set("nothing.here", RawValueFromValue(Value(int64_t{1}), ok.here())));
  Diagnostics fine;
  p = ok.Validate(registry, "retrain", fine);
  ASSERT_TRUE(p) << fine.Render(SourceTexts());
  EXPECT_EQ(p->stages[0].params.String("activation"), "tanh");
  EXPECT_EQ(p->stages[0].params.IntList("hidden"), (std::vector<int64_t>{16, 8}));

  // A stage recorded with another version of its plugin is refused, with the hint.
  PipelineBuilder old("built", "bundle x");
  old.Stage("model", "net").RecordedVersion("0.9.0");
  Diagnostics refused;
  EXPECT_FALSE(old.Validate(registry, "install that version", refused));
  EXPECT_EQ(refused.Render(SourceTexts()),
            "bundle x: error: stage 'model': plugin net is version 1.0.0 here (<memory>/net.so), but bundle x used "
            "0.9.0; install that version\n1 error\n");
}

TEST(PipelineTest, StageSeedsDependOnPipelineSeedAndName) {
  EXPECT_EQ(StageSeed(7, "train"), StageSeed(7, "train"));
  EXPECT_NE(StageSeed(7, "train"), StageSeed(8, "train"));
  EXPECT_NE(StageSeed(7, "train"), StageSeed(7, "eval"));
  EXPECT_LT(StageSeed(123456789, "x"), 1ULL << 31);
}

TEST(PipelineTest, OverridesReplaceParametersAndSeed) {
  Checked c = Check(kGood, {"fit.lr=3e-4", "net.hidden=[4, 2]", "net.activation=tanh", "pipeline.seed=9"});
  ASSERT_TRUE(c.pipeline) << c.errors;
  auto params = c.pipeline->ParamsJson();
  EXPECT_EQ(params.at("fit.lr"), "0.0003");
  EXPECT_EQ(params.at("net.hidden"), "[4,2]");
  EXPECT_EQ(params.at("net.activation"), "\"tanh\"");
  EXPECT_EQ(params.at("pipeline.seed"), "9");
  EXPECT_EQ(params.at("fit.seed"), std::to_string(StageSeed(9, "fit")));
}

TEST(PipelineTest, AnUnquotedOverrideOfAStringParameterIsTakenAsWritten) {
  // A run-id prefix such as 8932e5 reads as a TOML float; a string parameter wants the text.
  Checked c = Check(kGood, {"judge.label=8932e5", "fit.lr=8932e-9"});
  ASSERT_TRUE(c.pipeline) << c.errors;
  EXPECT_EQ(c.pipeline->ParamsJson().at("judge.label"), "\"8932e5\"");
  EXPECT_EQ(c.pipeline->ParamsJson().at("fit.lr"), "8.932e-06");
  c = Check(kGood, {"judge.label=true", "net.activation=\"tanh\""});
  ASSERT_TRUE(c.pipeline) << c.errors;
  EXPECT_EQ(c.pipeline->ParamsJson().at("judge.label"), "\"true\"");
  // In the file a number stays a number, and a wrong type is still an error.
  std::string file = kGood;
  file.replace(file.find("plugin = \"judge\"\n"), 17, "plugin = \"judge\"\nlabel = 12\n");
  c = Check(file);
  EXPECT_NE(c.errors.find("parameter 'label' of stage 'judge' must be a string"), std::string::npos) << c.errors;
}

TEST(PipelineTest, ReportsEveryProblemAtOnceInFileOrder) {
  Checked c = Check(R"([stages.data]
plugin = "source"
fraction = 2

[stages.fit]
plugin = "fit"
inputs = { data = "data", model = "nett" }
lrr = 0.1
epochs = 0
)");
  EXPECT_FALSE(c.pipeline);
  EXPECT_EQ(c.errors,
            "p.toml:1:9: error: stage 'data' (plugin source) is missing required parameter 'dir' (string, existing "
            "directory)\n"
            "   1 | [stages.data]\n"
            "     |         ^~~~\n"
            "p.toml:3:12: error: parameter 'fraction' of stage 'data' must be in [0, 0.9], got 2\n"
            "   3 | fraction = 2\n"
            "     |            ^\n"
            "p.toml:7:35: error: input 'model' of stage 'fit' names stage 'nett', which does not exist\n"
            "   7 | inputs = { data = \"data\", model = \"nett\" }\n"
            "     |                                   ^~~~~~\n"
            "p.toml:8:1: error: unknown parameter 'lrr' of stage 'fit' (plugin fit); did you mean 'lr'?\n"
            "   8 | lrr = 0.1\n"
            "     | ^~~\n"
            "p.toml:9:10: error: parameter 'epochs' of stage 'fit' must be >= 1, got 0\n"
            "   9 | epochs = 0\n"
            "     |          ^\n"
            "5 errors\n");
}

TEST(PipelineTest, FindsCyclesAndNamesThemAlongTheDataFlow) {
  Checked c = Check(R"([stages.a]
plugin = "relay"
inputs = { in = "c" }

[stages.b]
plugin = "relay"
inputs = { in = "a" }

[stages.c]
plugin = "relay"
inputs = { in = "b" }
)");
  EXPECT_FALSE(c.pipeline);
  EXPECT_NE(c.errors.find("error: the stages form a cycle: a -> b -> c -> a"), std::string::npos) << c.errors;
}

// A pipeline of thousands of stages (generated, or garbage) once took minutes to order
// (every pick rescanned every stage) and printed every one of its errors.
TEST(PipelineTest, ThousandsOfStagesAreOrderedAndTheirErrorsCountedNotAllQuoted) {
  const int n = 3000;
  std::string chain, wrong;
  for (int i = 0; i < n; ++i) {  // s0 reads s1, which reads s2, ...: declared against the flow
    chain += "[stages.s" + std::to_string(i) + "]\nplugin = \"relay\"\n";
    if (i + 1 < n) chain += "inputs = { in = \"s" + std::to_string(i + 1) + "\" }\n";
    wrong += "[stages.s" + std::to_string(i) + "]\nplugin = \"relay\"\nspeed = " + std::to_string(i) + "\n";
  }
  Checked ordered = Check(chain);
  ASSERT_TRUE(ordered.pipeline) << ordered.errors.substr(0, 2000);
  ASSERT_EQ(ordered.pipeline->stages.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(ordered.pipeline->stages[i].name, "s" + std::to_string(n - 1 - i));

  Checked bad = Check(wrong);
  EXPECT_FALSE(bad.pipeline);
  size_t quoted = 0;
  for (size_t at = 0; (at = bad.errors.find(": error: ", at)) != std::string::npos; ++at) ++quoted;
  EXPECT_EQ(quoted, Diagnostics::kMaxRendered);
  EXPECT_NE(bad.errors.find("p.toml:3:1: error: unknown parameter 'speed' of stage 's0'"), std::string::npos);
  const std::string tail = "(" + std::to_string(n - Diagnostics::kMaxRendered) + " more errors not shown)\n" +
                           std::to_string(n) + " errors\n";
  ASSERT_GE(bad.errors.size(), tail.size());
  EXPECT_EQ(bad.errors.substr(bad.errors.size() - tail.size()), tail);
}

// A mistake in a huge line, or a huge misspelt key, is quoted in part: the message and the
// line around the column, with the caret still under the mistake; a control character in
// the file is not printed as it is.
TEST(PipelineTest, ErrorsInHugeLinesQuoteAnExcerptWithTheCaretInPlace) {
  const std::string key(20000, 'z');
  Checked c = Check("[stages.x]\nplugin = \"relay\"\n" + key + " = 1\n");
  EXPECT_LT(c.errors.size(), 1000u) << c.errors.substr(0, 3000);
  EXPECT_NE(c.errors.find("unknown parameter '" + std::string(40, 'z') + "... (20000 bytes)'"), std::string::npos)
      << c.errors;

  const std::string far = "[pipeline]\nname = \"" + std::string(50000, 'a') + "\" \x01 = 2\n";
  c = Check(far);
  EXPECT_LT(c.errors.size(), 1000u) << c.errors.substr(0, 3000);
  const size_t quoted = c.errors.find("   2 | ...");
  ASSERT_NE(quoted, std::string::npos) << c.errors;
  const std::string line = c.errors.substr(quoted, c.errors.find('\n', quoted) - quoted);
  const std::string caret = c.errors.substr(quoted + line.size() + 1,
                                            c.errors.find('\n', quoted + line.size() + 1) - quoted - line.size() - 1);
  EXPECT_EQ(line.find('\x01'), std::string::npos) << "a control character was printed";
  ASSERT_NE(caret.find('^'), std::string::npos) << c.errors;
  EXPECT_EQ(line[caret.find('^')], '?') << "the caret is not under the mistake:\n" << line << "\n" << caret;
}

TEST(PipelineTest, RejectsAStageReadingItself) {
  Checked c = Check("[stages.a]\nplugin = \"relay\"\ninputs = { in = \"a\" }\n");
  EXPECT_NE(c.errors.find("cycle: a -> a"), std::string::npos) << c.errors;
}

TEST(PipelineTest, AmbiguousOutputsNeedAPortName) {
  static const plugin::PluginRegistry registry = plugin::PluginRegistry::FromContracts({
      Contract("two", "1", Kind::kOther).output("left", "blob").output("right", "blob"),
      Contract("relay", "1", Kind::kOther).optional_input("in", "blob").output("out", "blob"),
  });
  SourceTexts texts;
  Diagnostics diag;
  PipelineSpec spec =
      ParsePipeline("p.toml",
                    "[stages.t]\nplugin = \"two\"\n[stages.r]\nplugin = \"relay\"\ninputs = { in = \"t\" }\n"
                    "[stages.s]\nplugin = \"relay\"\ninputs = { in = \"t.right\" }\n",
                    texts, diag);
  EXPECT_FALSE(Validate(spec, registry, diag));
  const std::string errors = diag.Render(texts);
  EXPECT_NE(errors.find("stage 't' has several blob outputs; name one as \"t.PORT\""), std::string::npos) << errors;
  EXPECT_EQ(diag.size(), 1u) << errors;  // t.right is fine
}

TEST(PipelineTest, RelativeDirectoriesAreTakenFromThePipelineFolder) {
  testing::TempDir dir;
  dir.Write("sub/data/marker", "");
  const std::string file = dir.Write("sub/p.toml", "[stages.d]\nplugin = \"source\"\ndir = \"data\"\n");
  SourceTexts texts;
  Diagnostics diag;
  PipelineSpec spec = ParsePipelineFile(file, texts, diag);
  auto resolved = Validate(spec, TestRegistry(), diag);
  ASSERT_TRUE(resolved) << diag.Render(texts);
  EXPECT_EQ(resolved->stages[0].params.String("dir"), (dir.path() / "sub" / "data").string());
}

// The shipped pipelines name Weka's files weka/examples/NAME.arff: found in the setup's
// folder on a fresh machine, in /usr/share/doc where the weka package is installed.
TEST(DataPathTest, SearchesThePipelinesFolderThenSluiceDataPathThenTheSetupsAndDebiansFolders) {
  testing::TempDir dir;
  dir.Write("p/near.csv", "");
  dir.Write("a/shared.csv", "");
  dir.Write("b/shared.csv", "");
  dir.Write("b/only-b.csv", "");
  const char* saved = std::getenv("SLUICE_DATA_PATH");
  const std::string previous = saved ? saved : "";
  setenv("SLUICE_DATA_PATH", (dir / "a" + ":" + dir / "b").c_str(), 1);
  std::vector<std::string> folders;
  for (const data::DataFolder& f : data::DataPath()) folders.push_back(f.path.string());
  ASSERT_GE(folders.size(), 6u);
  EXPECT_EQ(folders[0], dir / "a");
  EXPECT_EQ(folders[1], dir / "b");
  EXPECT_EQ(std::vector<std::string>(folders.end() - 4, folders.end()),
            (std::vector<std::string>{"/usr/local/share/sluice/data", "/usr/share/sluice/data", "/usr/share/datasets",
                                      "/usr/share/doc"}));
  const std::filesystem::path base = dir.path() / "p";
  EXPECT_EQ(data::FindData("near.csv", base), base / "near.csv");
  EXPECT_EQ(data::FindData("shared.csv", base), dir.path() / "a" / "shared.csv");
  EXPECT_EQ(data::FindData("only-b.csv", base), dir.path() / "b" / "only-b.csv");
  EXPECT_EQ(data::FindData("./only-b.csv", base), std::nullopt);
  EXPECT_EQ(data::FindData("../a/shared.csv", base), dir.path() / "a" / "shared.csv");
  std::vector<std::filesystem::path> tried;
  EXPECT_EQ(data::FindData("nowhere.csv", base, &tried), std::nullopt);
  EXPECT_EQ(tried.size(), folders.size() + 1);
  if (saved) {
    setenv("SLUICE_DATA_PATH", previous.c_str(), 1);
  } else {
    unsetenv("SLUICE_DATA_PATH");
  }
}

TEST(PipelineTest, NamesThePipelineAfterItsFileWhenUnnamed) {
  SourceTexts texts;
  Diagnostics diag;
  PipelineSpec spec = ParsePipeline("dir/my_pipe.toml", "[stages.n]\nplugin = \"net\"\n", texts, diag);
  EXPECT_EQ(spec.name, "my_pipe");
}

TEST(PipelineTest, MissingFileIsAnError) {
  SourceTexts texts;
  Diagnostics diag;
  ParsePipelineFile("/nonexistent/p.toml", texts, diag);
  EXPECT_EQ(diag.Render(texts),
            "/nonexistent/p.toml: error: cannot read pipeline file: No such file or directory\n1 error\n");
}

TEST(DiagnosticsTest, SuggestsCloseNamesOnly) {
  EXPECT_EQ(ClosestMatch("lrr", {"lr", "epochs"}), "lr");
  EXPECT_EQ(ClosestMatch("optimzer", {"optimizer", "lr"}), "optimizer");
  EXPECT_EQ(ClosestMatch("batchsize", {"batch_size"}), "batch_size");
  EXPECT_EQ(ClosestMatch("tarin", {"train", "eval"}), "train");  // transposition
  EXPECT_EQ(ClosestMatch("zzz", {"lr", "epochs"}), "");
  EXPECT_EQ(DidYouMean("x", {}), "");
}

TEST(DiagnosticsTest, UnderlinesWithinTheLineAndKeepsTabs) {
  SourceTexts texts;
  texts.Add("f.toml", "a = 1\n\tbad = 2\n");
  Diagnostics diag;
  diag.Error({"f.toml", 2, 2, 3}, "wrong");
  EXPECT_EQ(diag.Render(texts), "f.toml:2:2: error: wrong\n   2 | \tbad = 2\n     | \t^~~\n1 error\n");
}

}  // namespace
}  // namespace sluice::pipeline
