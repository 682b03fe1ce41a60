// Sweeps without processes: the [sweep] table checked against contracts, samplers,
// pruners and parameter importance.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "pipeline/diagnostics.hpp"
#include "pipeline/spec.hpp"
#include "sweep/pruner.hpp"
#include "sweep/sampler.hpp"
#include "sweep/space.hpp"
#include "sweep/study.hpp"

namespace sluice::sweep {
namespace {

plugin::PluginRegistry Registry() {
  return plugin::PluginRegistry::FromContracts({
      Contract("fit", "1.0.0", Kind::kTrain)
          .param(FloatParam("lr", 0.01).greater_than(0))
          .param(FloatParam("dropout", 0.0).range(0, 0.9))
          .param(IntParam("batch", 32).range(1, 4096))
          .param(IntListParam("hidden", {8}).min(1))
          .param(ChoiceParam("opt", "sgd", {"sgd", "adam"}))
          .param(SeedParam()),
  });
}

struct Resolved {
  std::optional<Sweep> sweep;
  std::string errors;
};

Resolved Resolve(const std::string& sweep_toml) {
  static const plugin::PluginRegistry registry = Registry();
  pipeline::SourceTexts texts;
  pipeline::Diagnostics diag;
  pipeline::PipelineSpec spec =
      pipeline::ParsePipeline("s.toml", "[stages.fit]\nplugin = \"fit\"\n" + sweep_toml, texts, diag);
  Resolved out;
  out.sweep = ResolveSweep(spec, registry, diag);
  out.errors = diag.Render(texts);
  return out;
}

const char* kSpace = R"(
[sweep]
metric = "fit.loss"
direction = "minimize"
trials = 20

[sweep.space]
"fit.lr" = { log_uniform = [1e-4, 1e-1] }
"fit.dropout" = { uniform = [0.0, 0.5], step = 0.1 }
"fit.batch" = { int = [32, 256], step = 32 }
"fit.hidden" = { choice = [[128], [256, 128]] }
)";

TEST(SweepSpaceTest, ResolvesEveryKindOfDimension) {
  Resolved r = Resolve(kSpace);
  ASSERT_TRUE(r.sweep) << r.errors;
  const Sweep& s = *r.sweep;
  EXPECT_FALSE(s.maximize);
  EXPECT_EQ(s.sampler, "tpe");
  ASSERT_EQ(s.space.size(), 4u);
  EXPECT_EQ(s.space[0].kind, Dimension::Kind::kLogUniform);
  EXPECT_EQ(s.space[1].Cardinality(), 6);  // 0.0 .. 0.5
  EXPECT_EQ(s.space[2].Cardinality(), 8);  // 32 .. 256
  EXPECT_TRUE(s.space[2].integer_param);
  EXPECT_EQ(s.space[3].choices[1], (json{256, 128}));
  EXPECT_TRUE(s.space[2].Contains(96));
  EXPECT_FALSE(s.space[2].Contains(100));
  EXPECT_FALSE(s.space[0].Contains(0.5));
  // The stored form reads back the same; the space key ignores the budget.
  EXPECT_EQ(Sweep::FromJson(s.ToJson()).ToJson(), s.ToJson());
  Sweep other = s;
  other.trials = 99;
  EXPECT_EQ(other.SpaceKey(), s.SpaceKey());
  other.space[0].high = 0.2;
  EXPECT_NE(other.SpaceKey(), s.SpaceKey());
}

TEST(SweepSpaceTest, ReportsEveryProblemWithItsPlace) {
  Resolved r = Resolve(R"([sweep]
metric = "fit"
direction = "up"
sampler = "bayes"

[sweep.space]
"fit.lr" = { uniform = [0.0, 0.1] }
"fit.batch" = { uniform = [1, 8] }
"fit.opt" = { choice = ["sgd", "lbfgs"] }
"fit.momentum" = { uniform = [0.0, 1.0] }
)");
  EXPECT_FALSE(r.sweep);
  EXPECT_EQ(r.errors,
            "s.toml:3:2: error: [sweep] needs a budget: trials = N, timeout = \"30m\", or both\n"
            "   3 | [sweep]\n"
            "     |  ^~~~~\n"
            "s.toml:4:10: error: [sweep] metric must name a metric as \"stage.metric\", e.g. \"eval.accuracy\"\n"
            "   4 | metric = \"fit\"\n"
            "     |          ^~~~~\n"
            "s.toml:5:13: error: [sweep] direction must be one of maximize|minimize, got \"up\"\n"
            "   5 | direction = \"up\"\n"
            "     |             ^~~~\n"
            "s.toml:6:11: error: [sweep] sampler must be one of grid|random|tpe, got \"bayes\"\n"
            "   6 | sampler = \"bayes\"\n"
            "     |           ^~~~~~~\n"
            "s.toml:9:25: error: parameter 'lr' of stage 'fit' must be > 0, got 0.0\n"
            "   9 | \"fit.lr\" = { uniform = [0.0, 0.1] }\n"
            "     |                         ^~~\n"
            "s.toml:10:1: error: 'fit.batch' is an integer parameter: use { int = [low, high] } (or log_uniform)\n"
            "  10 | \"fit.batch\" = { uniform = [1, 8] }\n"
            "     | ^~~~~~~~~~~\n"
            "s.toml:11:32: error: parameter 'opt' of stage 'fit' must be one of sgd|adam, got \"lbfgs\"\n"
            "  11 | \"fit.opt\" = { choice = [\"sgd\", \"lbfgs\"] }\n"
            "     |                                ^~~~~~~\n"
            "s.toml:12:1: error: stage 'fit' (plugin fit) has no parameter 'momentum'\n"
            "  12 | \"fit.momentum\" = { uniform = [0.0, 1.0] }\n"
            "     | ^~~~~~~~~~~~~~\n"
            "8 errors\n");
}

// The [sweep] schema is what validate checks the options against: its defaults must be
// the ones a sweep really uses, or the schema documents one thing and runs another.
TEST(SweepSpaceTest, TheOptionsSchemaStatesTheDefaultsASweepUses) {
  const Sweep defaults;
  std::map<std::string, Value> expected = {{"sampler", defaults.sampler},
                                           {"pruner", defaults.pruner},
                                           {"min_resource", defaults.min_resource},
                                           {"reduction_factor", defaults.reduction_factor},
                                           {"startup_trials", defaults.startup_trials},
                                           {"warmup_steps", defaults.warmup_steps},
                                           {"tpe_startup_trials", defaults.tpe_startup_trials},
                                           {"tpe_multivariate", defaults.tpe_multivariate},
                                           {"warm_start", defaults.warm_start}};
  for (const ParamSpec& option : SweepOptions()) {
    auto it = expected.find(option.name());
    if (it == expected.end()) continue;
    EXPECT_EQ(ValueToString(option.default_value()), ValueToString(it->second)) << "[sweep] " << option.name();
    expected.erase(it);
  }
  EXPECT_TRUE(expected.empty()) << expected.size() << " options missing from SweepOptions(), e.g. "
                                << expected.begin()->first;
  // Values are checked as stage parameters are, with the same wording.
  Resolved r = Resolve(R"([sweep]
metric = "fit.loss"
direction = "minimize"
trials = 0
reduction_factor = 1.5
warm_start = "yes"
[sweep.space]
"fit.lr" = { uniform = [0.01, 0.1] }
)");
  EXPECT_EQ(r.errors,
            "s.toml:3:2: error: [sweep] needs a budget: trials = N, timeout = \"30m\", or both\n"
            "   3 | [sweep]\n"
            "     |  ^~~~~\n"
            "s.toml:6:10: error: [sweep] trials must be >= 1, got 0\n"
            "   6 | trials = 0\n"
            "     |          ^\n"
            "s.toml:7:20: error: [sweep] reduction_factor must be an integer, not a float (1.5)\n"
            "   7 | reduction_factor = 1.5\n"
            "     |                    ^~~\n"
            "s.toml:8:14: error: [sweep] warm_start must be a boolean (true or false), not a string (\"yes\")\n"
            "   8 | warm_start = \"yes\"\n"
            "     |              ^~~~~\n"
            "4 errors\n");
}

TEST(SweepSpaceTest, GridNeedsCountableDimensions) {
  Resolved r = Resolve(R"(
[sweep]
metric = "fit.loss"
direction = "minimize"
sampler = "grid"
[sweep.space]
"fit.lr" = { uniform = [0.1, 0.5] }
)");
  EXPECT_FALSE(r.sweep);
  EXPECT_NE(r.errors.find("sampler = \"grid\" cannot enumerate 'fit.lr': give it a step"), std::string::npos)
      << r.errors;
}

TEST(SamplerTest, GridVisitsEveryPointOnceThenStops) {
  Resolved r = Resolve(kSpace);
  ASSERT_TRUE(r.sweep);
  Sweep s = *r.sweep;
  s.space.erase(s.space.begin());  // lr is continuous
  EXPECT_EQ(GridSize(s), 6 * 8 * 2);
  std::set<std::string> used;
  int64_t next = 0;
  while (std::optional<json> p = SampleGrid(s, used, next)) {
    EXPECT_TRUE(used.insert(p->dump()).second) << p->dump();
    for (const Dimension& d : s.space) EXPECT_TRUE(d.Contains(p->at(d.key))) << p->dump();
  }
  EXPECT_EQ(used.size(), 96u);
  // A point freed (its trial interrupted) is given again once the caller starts over.
  const std::string freed = *used.begin();
  used.erase(freed);
  EXPECT_FALSE(SampleGrid(s, used, next)) << "a caller that keeps `next` is not sent back";
  next = 0;
  std::optional<json> again = SampleGrid(s, used, next);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->dump(), freed);
}

TEST(SamplerTest, RandomStaysInTheSpaceAndRepeatsForTheSameTrial) {
  Resolved r = Resolve(kSpace);
  ASSERT_TRUE(r.sweep);
  std::set<double> lrs;
  for (int64_t trial = 0; trial < 200; ++trial) {
    std::mt19937_64 rng = TrialRng(7, trial);
    json p = SampleRandom(*r.sweep, rng);
    for (const Dimension& d : r.sweep->space) EXPECT_TRUE(d.Contains(p.at(d.key))) << p.dump();
    EXPECT_TRUE(p.at("fit.batch").is_number_integer());
    lrs.insert(p.at("fit.lr").get<double>());
    std::mt19937_64 again = TrialRng(7, trial);
    EXPECT_EQ(SampleRandom(*r.sweep, again), p);
  }
  // Log-uniform: about as many draws below 1e-2.5 as above.
  const auto below = std::count_if(lrs.begin(), lrs.end(), [](double v) { return v < std::pow(10.0, -2.5); });
  EXPECT_GT(below, 70);
  EXPECT_LT(below, 130);
}

// Best value of a 2-d quadratic after `n` trials of a sampler.
double BestAfter(const Sweep& s, int n, uint64_t seed, bool tpe, bool multivariate = true) {
  TpeOptions options;
  options.multivariate = multivariate;
  std::vector<Observation> history;
  double best = INFINITY;
  for (int i = 0; i < n; ++i) {
    std::mt19937_64 rng = TrialRng(seed, i);
    json p = tpe ? SampleTpe(s, history, options, rng) : SampleRandom(s, rng);
    const double x = p.at("fit.lr").get<double>(), y = p.at("fit.dropout").get<double>();
    const double v =
        std::pow(std::log10(x) + 2.2, 2) + std::pow(y - 0.31, 2) * 10 + (p.at("fit.opt") == "adam" ? 0.0 : 0.5);
    best = std::min(best, v);
    history.push_back({p, v});
  }
  return best;
}

TEST(SamplerTest, TpeFindsBetterPointsThanRandomSearch) {
  Resolved r = Resolve(R"(
[sweep]
metric = "fit.loss"
direction = "minimize"
trials = 60
[sweep.space]
"fit.lr" = { log_uniform = [1e-4, 1e-1] }
"fit.dropout" = { uniform = [0.0, 0.9] }
"fit.opt" = { choice = ["sgd", "adam"] }
)");
  ASSERT_TRUE(r.sweep) << r.errors;
  std::vector<double> tpe, independent, random;
  for (uint64_t seed = 1; seed <= 11; ++seed) {
    tpe.push_back(BestAfter(*r.sweep, 60, seed, true));
    independent.push_back(BestAfter(*r.sweep, 60, seed, true, false));
    random.push_back(BestAfter(*r.sweep, 60, seed, false));
  }
  std::sort(tpe.begin(), tpe.end());
  std::sort(independent.begin(), independent.end());
  std::sort(random.begin(), random.end());
  EXPECT_LT(tpe[5], random[5] * 0.5) << "median best: tpe " << tpe[5] << ", random " << random[5];
  EXPECT_LT(independent[5], random[5] * 0.5) << "median best: univariate tpe " << independent[5];
  EXPECT_LT(tpe[5], 0.02);
}

TEST(SamplerTest, TpeIsReproducible) {
  Resolved r = Resolve(kSpace);
  ASSERT_TRUE(r.sweep);
  std::vector<Observation> history;
  for (int i = 0; i < 15; ++i) {
    std::mt19937_64 rng = TrialRng(3, i);
    json p = SampleRandom(*r.sweep, rng);
    history.push_back({p, p.at("fit.dropout").get<double>()});
  }
  std::mt19937_64 a = TrialRng(3, 15), b = TrialRng(3, 15);
  EXPECT_EQ(SampleTpe(*r.sweep, history, TpeOptions{}, a), SampleTpe(*r.sweep, history, TpeOptions{}, b));
}

TEST(PrunerTest, MedianStopsTrialsWorseThanTheMedianOfFinishedOnes) {
  Sweep s;
  s.maximize = true;
  s.pruner = "median";
  s.startup_trials = 3;
  s.warmup_steps = 2;
  const std::vector<double> others = {0.5, 0.7, 0.9};
  EXPECT_FALSE(ShouldPrune(s, 1, 0.1, others, 3));  // warming up
  EXPECT_TRUE(ShouldPrune(s, 2, 0.6, others, 3));
  EXPECT_FALSE(ShouldPrune(s, 2, 0.8, others, 3));
  EXPECT_FALSE(ShouldPrune(s, 2, 0.1, others, 2));  // too few finished trials
  s.maximize = false;
  EXPECT_FALSE(ShouldPrune(s, 2, 0.6, others, 3));
  EXPECT_TRUE(ShouldPrune(s, 2, NAN, others, 3));
}

TEST(PrunerTest, AshaJudgesAtRungsAndKeepsTheTopThird) {
  Sweep s;
  s.maximize = true;
  s.pruner = "asha";
  s.min_resource = 1;
  s.reduction_factor = 3;
  EXPECT_TRUE(PruneCheckpoint(s, 1));
  EXPECT_FALSE(PruneCheckpoint(s, 2));
  EXPECT_TRUE(PruneCheckpoint(s, 3));
  EXPECT_TRUE(PruneCheckpoint(s, 9));
  EXPECT_FALSE(PruneCheckpoint(s, 10));
  EXPECT_FALSE(ShouldPrune(s, 2, 0.0, {0.9, 0.8}, 0));  // not a rung
  s.max_resource = 9;
  EXPECT_FALSE(PruneCheckpoint(s, 9));  // the last epoch: nothing left to save
  EXPECT_TRUE(PruneCheckpoint(s, 3));
  s.max_resource.reset();
  EXPECT_FALSE(ShouldPrune(s, 1, 0.5, {}, 0));    // the first one there goes on
  EXPECT_TRUE(ShouldPrune(s, 1, 0.5, {0.9}, 0));  // with two, only the best
  // Six values at the rung with this one: the best two continue.
  EXPECT_FALSE(ShouldPrune(s, 3, 0.85, {0.9, 0.8, 0.7, 0.6, 0.5}, 0));
  EXPECT_TRUE(ShouldPrune(s, 3, 0.75, {0.9, 0.8, 0.7, 0.6, 0.5}, 0));
}

TEST(StudyTest, ImportanceFindsTheParameterThatMatters) {
  Resolved r = Resolve(kSpace);
  ASSERT_TRUE(r.sweep);
  std::vector<store::TrialRecord> trials;
  for (int i = 0; i < 60; ++i) {
    std::mt19937_64 rng = TrialRng(11, i);
    json p = SampleRandom(*r.sweep, rng);
    store::TrialRecord t;
    t.number = i;
    t.state = store::TrialState::kComplete;
    t.run_id = "r" + std::to_string(i);
    t.params = p.dump();
    t.value = std::log10(p.at("fit.lr").get<double>()) + 0.01 * p.at("fit.dropout").get<double>();
    trials.push_back(t);
  }
  auto importance = ParameterImportance(*r.sweep, trials);
  ASSERT_EQ(importance.size(), 4u);
  EXPECT_EQ(importance[0].first, "fit.lr");
  EXPECT_GT(importance[0].second, 0.7);
  StudySummary summary = Summarize(*r.sweep, trials);
  EXPECT_EQ(summary.complete, 60);
  ASSERT_TRUE(summary.best);
  for (const auto& t : trials) EXPECT_LE(summary.best->value, *t.value);  // minimize
}

}  // namespace
}  // namespace sluice::sweep
