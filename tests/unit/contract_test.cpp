// Mistakes in a plugin's own contract (sluice/contract.hpp), found before it is built into
// a library: every one is named with the parameter or port it concerns.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sluice/contract.hpp"
#include "sluice/plugin.hpp"

namespace sluice {
namespace {

using Problems = std::vector<std::string>;

TEST(ContractTest, TheBuiltInShapesAreSound) {
  Contract c = Contract("scale", "1.0.0", Kind::kOther)
                   .input("in", "blob")
                   .output("out", "blob")
                   .param(IntParam("n", 10).range(1, 100))
                   .param(FloatParam("lr", 1e-3).greater_than(0))
                   .param(ChoiceParam("mode", "fast", {"fast", "slow"}))
                   .param(IntListParam("sizes", {1, 2}).min(0).max_items(4))
                   .param(ParamSpec("ratio", ParamType::kFloat).default_value(int64_t{1}))  // an int is a float
                   .param(SeedParam());
  EXPECT_EQ(c.Problems(), Problems{});
}

TEST(ContractTest, MetricsTravelInTheJsonAndOlderContractsHaveNone) {
  Contract c = Contract("eval", "1.0.0", Kind::kEval)
                   .metric({"accuracy", Goal::kMaximize, "share right"})
                   .metric({"log_loss", Goal::kMinimize, "cross-entropy"})
                   .metric({"rows", Goal::kNone, "how many"});
  const Contract back = Contract::FromJson(c.ToJson());
  ASSERT_EQ(back.metrics().size(), 3u);
  EXPECT_EQ(back.FindMetric("log_loss")->goal, Goal::kMinimize);
  EXPECT_EQ(back.FindMetric("accuracy")->doc, "share right");
  EXPECT_EQ(back.FindMetric("nope"), nullptr);
  const Contract old =
      Contract::FromJson(R"({"name":"old","version":"0.1.0","kind":"other","inputs":[],"outputs":[],"params":[]})");
  EXPECT_TRUE(old.metrics().empty());
  EXPECT_EQ(Contract("x", "1", Kind::kOther).metric({"a", Goal::kNone, ""}).metric({"a", Goal::kNone, ""}).Problems(),
            Problems{"metric 'a' is declared twice"});
}

TEST(ContractTest, NamesEveryMistakeInTheContract) {
  Contract c = Contract("bad plugin", "", Kind::kData)
                   .input("in", "blob")
                   .input("in", "")
                   .output("2out", "blob")
                   .param(IntParam("size", 5).range(10, 1000000))
                   .param(IntParam("size", 20))
                   .param(ParamSpec("rate", ParamType::kFloat).default_value(std::string("fast")))
                   .param(ChoiceParam("mode", "medium", {"fast", "slow"}))
                   .param(IntListParam("widths", {64, 0, 32}).min(1).max_items(2))
                   .param(FloatParam("p", 0.5).range(1, 0))
                   .param(BoolParam("flag", true).choices({"yes"}))
                   .param(IntParam("bad-name", 1));
  EXPECT_EQ(c.Problems(),
            (Problems{
                "the plugin's name 'bad plugin' is not a name (1 to 100 letters, digits, '-', '_' or '.', starting "
                "with a letter or digit)",
                "the plugin has no version",
                "parameter 'size': its default 5 is outside its range [10, 1000000]",
                "parameter 'size' is declared twice",
                "parameter 'rate': its default is string, but the parameter is float",
                "parameter 'mode': its default \"medium\" is not one of its choices (one of fast|slow)",
                "parameter 'widths': its default has 3 items, outside >= 1, 0..2 items",
                "parameter 'widths': element 0 of its default [64, 0, 32] is outside its range >= 1",
                "parameter 'p': its range [1, 0] allows no value",
                "parameter 'p': its default 0.5 is outside its range [1, 0]",
                "parameter 'flag': choices apply to strings, not bool",
                "parameter 'bad-name': not a name (letters, digits and '_', not first a digit)",
                "input 'in' is declared twice",
                "input 'in' has no type",
                "output '2out': not a name",
            }));
  EXPECT_EQ(internal::DescribeError(c, {"parameter 'size' is declared twice"}),
            "the contract of plugin 'bad plugin' has 1 mistake:\n  parameter 'size' is declared twice");
}

}  // namespace
}  // namespace sluice
