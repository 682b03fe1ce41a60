// The mlp stage alone: the spec it outputs builds the network it describes.
#include <gtest/gtest.h>

#include "sluice/testing/stage_harness.hpp"
#include "sluice/testing/status_matchers.hpp"
#include "sluice/torch.hpp"

namespace sluice {
namespace {

int64_t ParameterCount(Network& net) {
  int64_t n = 0;
  for (const auto& t : net.parameters()) n += t.numel();
  return n;
}

TEST(MlpTest, BuildsTheLayersItDescribes) {
  testing::StageHarness h("mlp");
  h.Set("hidden", std::vector<int64_t>{32, 16}).Set("activation", std::string("tanh")).Set("dropout", 0.25);
  ASSERT_OK(h.Run());
  auto spec = h.Output<ModelSpec>("model");
  ASSERT_TRUE(spec);
  const InputSchema schema{{1, 4, 4}, {}, {}, 3};
  EXPECT_EQ(spec->Describe(schema), "mlp 16-32-16-3 tanh dropout 0.25");
  auto net = spec->Build(schema);
  EXPECT_EQ(ParameterCount(*net), (16 * 32 + 32) + (32 * 16 + 16) + (16 * 3 + 3));
  net->eval();
  EXPECT_EQ(net->forward(torch::zeros({5, 1, 4, 4})).sizes(), (std::vector<int64_t>{5, 3}));
}

TEST(MlpTest, NoHiddenLayersIsALinearModel) {
  testing::StageHarness h("mlp");
  h.Set("hidden", std::vector<int64_t>{});
  ASSERT_OK(h.Run());
  auto net = h.Output<ModelSpec>("model")->Build(InputSchema{{10}, {}, {}, 2});
  EXPECT_EQ(ParameterCount(*net), 10 * 2 + 2);
}

}  // namespace
}  // namespace sluice
