// The UI's series reduction: TensorBoard's smoothing, and largest-triangle-three-buckets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "ui/series.hpp"

namespace sluice::ui {
namespace {

TEST(SmoothTest, IsTensorBoardsDebiasedMovingAverage) {
  const std::vector<double> y = {4, 2, NAN, 6};
  const std::vector<double> s = Smooth(y, 0.5);
  EXPECT_DOUBLE_EQ(s[0], 4) << "debiased: no pull toward zero at the start";
  EXPECT_DOUBLE_EQ(s[1], (0.5 * 0.5 * 4 + 0.5 * 2) / (1 - 0.25));
  EXPECT_TRUE(std::isnan(s[2])) << "a NaN stays where it was and does not enter the average";
  EXPECT_DOUBLE_EQ(s[3], (0.5 * (0.5 * 0.5 * 4 + 0.5 * 2) + 0.5 * 6) / (1 - 0.125));
  EXPECT_EQ(Smooth(y, 0)[1], 2) << "weight 0 leaves the series as it is";
}

TEST(LttbTest, KeepsTheEndsAndThePeaksAndNeverMoreThanAsked) {
  std::vector<double> x, y;
  for (int i = 0; i < 1000; ++i) {
    x.push_back(i);
    y.push_back(i == 500 ? 100.0 : std::sin(i / 50.0));
  }
  const std::vector<size_t> kept = Lttb(x, y, 50);
  ASSERT_EQ(kept.size(), 50u);
  EXPECT_EQ(kept.front(), 0u);
  EXPECT_EQ(kept.back(), 999u);
  EXPECT_NE(std::find(kept.begin(), kept.end(), 500u), kept.end()) << "a spike is never averaged away";
  for (size_t i = 1; i < kept.size(); ++i) EXPECT_LT(kept[i - 1], kept[i]);
  EXPECT_EQ(Lttb(x, y, 5000).size(), 1000u) << "short series are sent whole";
}

TEST(LttbTest, NeverChoosesANan) {
  std::vector<double> x, y;
  for (int i = 0; i < 100; ++i) {
    x.push_back(i);
    y.push_back(i % 3 == 0 ? NAN : i);
  }
  for (size_t i : Lttb(x, y, 10)) EXPECT_FALSE(std::isnan(y[i])) << i;
}

}  // namespace
}  // namespace sluice::ui
