// The example plugin's own test, built against the installed SDK as a third party's would
// be: sluice_plugin_test() runs it with the plugin on SLUICE_PLUGIN_PATH.
#include <gtest/gtest.h>

#include <stdexcept>

#include "sluice/testing/stage_harness.hpp"
#include "sluice/testing/status_matchers.hpp"
#include "sluice/torch.hpp"

namespace {

TEST(TinyCnnTest, BuildsANetworkForTheDataItIsGiven) {
  sluice::testing::StageHarness h("example-tiny-cnn");
  h.Set("filters", int64_t{4});
  ASSERT_OK(h.Run());
  auto spec = h.Output<sluice::ModelSpec>("model");
  ASSERT_TRUE(spec);
  const sluice::InputSchema images{{1, 28, 28}, {}, {}, 10};
  EXPECT_EQ(spec->Describe(images), "tiny-cnn 4/8 filters, 1 channels in, 10 outputs");
  torch::Tensor logits = spec->Build(images)->forward(torch::zeros({2, 1, 28, 28}));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 10}));
  // Tables are not images: the error reaches the user as the stage's message.
  EXPECT_THROW(spec->Build(sluice::InputSchema{{41}, {}, {}, 2}), sluice::StageError);
}

TEST(TinyCnnTest, RefusesParametersItsContractRefuses) {
  sluice::testing::StageHarness h("example-tiny-cnn");
  EXPECT_THROW(h.Set("filters", int64_t{0}), std::invalid_argument);           // below its range
  EXPECT_THROW(h.Set("filters", std::string("many")), std::invalid_argument);  // not an int
  EXPECT_THROW(h.Set("kernel", int64_t{3}), std::invalid_argument);            // no such parameter
}

}  // namespace
