// The cnn stage alone: the network it describes, and what it refuses.
#include <gtest/gtest.h>

#include "sluice/testing/stage_harness.hpp"
#include "sluice/testing/status_matchers.hpp"
#include "sluice/torch.hpp"

namespace sluice {
namespace {

TEST(CnnTest, BuildsBlocksPoolingAndHead) {
  testing::StageHarness h("cnn");
  h.Set("channels", std::vector<int64_t>{8, 16}).Set("hidden", std::vector<int64_t>{32});
  h.Set("convs_per_block", int64_t{2});
  ASSERT_OK(h.Run());
  auto spec = h.Output<ModelSpec>("model");
  const InputSchema schema{{1, 28, 28}, {}, {}, 10};
  EXPECT_EQ(spec->Describe(schema), "cnn 2x8@3x3 2x16@3x3 +bn maxpool -32 -10");
  auto net = spec->Build(schema);
  net->eval();
  EXPECT_EQ(net->forward(torch::zeros({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 10}));
  int64_t conv = 0;
  for (const auto& p : net->named_parameters()) conv += p.key().find("features") == 0 && p.value().dim() == 4;
  EXPECT_EQ(conv, 4);
}

TEST(CnnTest, RefusesTablesEvenKernelsAndTooMuchPooling) {
  testing::StageHarness h("cnn");
  ASSERT_OK(h.Run());
  auto spec = h.Output<ModelSpec>("model");
  EXPECT_THROW(spec->Build(InputSchema{{63}, {}, {}, 2}), StageError);
  testing::StageHarness even("cnn");
  even.Set("kernel_sizes", std::vector<int64_t>{4});
  EXPECT_EQ(even.Run().message(), "kernel sizes must be odd (got 4)");
  testing::StageHarness deep("cnn");
  deep.Set("channels", std::vector<int64_t>{4, 4, 4, 4, 4, 4});
  ASSERT_OK(deep.Run());
  try {
    deep.Output<ModelSpec>("model")->Build(InputSchema{{1, 28, 28}, {}, {}, 10});
    FAIL();
  } catch (const StageError& e) {
    EXPECT_NE(std::string(e.what()).find("6 pooled blocks are too many for this image size"), std::string::npos);
  }
}

}  // namespace
}  // namespace sluice
