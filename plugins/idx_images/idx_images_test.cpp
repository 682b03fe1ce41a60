// The idx-images stage alone, on IDX files written by the test.
#include <gtest/gtest.h>
#include <zlib.h>

#include "sluice/testing/stage_harness.hpp"
#include "sluice/testing/status_matchers.hpp"
#include "sluice/torch.hpp"
#include "temp_dir.hpp"

namespace sluice {
namespace {

using testing::StageHarness;

void WriteIdx(const std::string& path, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::string bytes = {0, 0, 8, static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes += static_cast<char>((d >> shift) & 0xff);
  }
  bytes.append(data.begin(), data.end());
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

// n images of 4x4 whose pixels all equal the image's index (mod 256), labels i % 3.
void WriteSet(const testing::TempDir& dir, const std::string& prefix, uint32_t n) {
  std::vector<uint8_t> pixels, labels;
  for (uint32_t i = 0; i < n; ++i) {
    pixels.insert(pixels.end(), 16, static_cast<uint8_t>(i % 256));
    labels.push_back(static_cast<uint8_t>(i % 3));
  }
  WriteIdx(dir / (prefix + "-images-idx3-ubyte.gz"), {n, 4, 4}, pixels);
  WriteIdx(dir / (prefix + "-labels-idx1-ubyte.gz"), {n}, labels);
}

std::shared_ptr<TensorDataset> Load(const testing::TempDir& dir, int64_t seed, double val_fraction = 0.2) {
  StageHarness h("idx-images");
  h.Set("dir", dir.path().string()).Set("seed", seed).Set("val_fraction", val_fraction);
  EXPECT_OK(h.Run());
  return h.Output<TensorDataset>("data");
}

TEST(IdxImagesTest, SplitsWithTheSeedAndNormalizesWithTrainingStatistics) {
  testing::TempDir dir;
  WriteSet(dir, "train", 100);
  WriteSet(dir, "t10k", 30);
  auto ds = Load(dir, 1);
  ASSERT_TRUE(ds);
  EXPECT_EQ(ds->train.size(), 80);
  EXPECT_EQ(ds->validation.size(), 20);
  EXPECT_EQ(ds->test.size(), 30);
  EXPECT_EQ(ds->sample_shape, (std::vector<int64_t>{1, 4, 4}));
  EXPECT_EQ(ds->class_names, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(ds->train.features.scalar_type(), torch::kUInt8);  // compact until batched

  torch::Tensor x = ds->Range(ds->train, 0, ds->train.size()).dense;
  EXPECT_NEAR(x.mean().item<double>(), 0.0, 1e-5);
  EXPECT_NEAR(x.std(/*unbiased=*/false).item<double>(), 1.0, 1e-5);
  // Statistics come from the training split only: validation is not centred exactly.
  EXPECT_GT(std::abs(ds->Range(ds->validation, 0, 20).dense.mean().item<double>()), 1e-3);

  // Train and validation partition the file.
  torch::Tensor all = torch::cat({ds->train.features, ds->validation.features}).select(1, 0).select(1, 0).select(1, 0);
  EXPECT_EQ(std::get<0>(torch::_unique(all)).numel(), 100);
}

TEST(IdxImagesTest, SameSeedSameSplit) {
  testing::TempDir dir;
  WriteSet(dir, "train", 100);
  WriteSet(dir, "t10k", 10);
  auto a = Load(dir, 5), b = Load(dir, 5), c = Load(dir, 6);
  EXPECT_TRUE(torch::equal(a->validation.features, b->validation.features));
  EXPECT_FALSE(torch::equal(a->validation.features, c->validation.features));
}

TEST(IdxImagesTest, RefusesImagesAndLabelsThatDisagree) {
  testing::TempDir dir;
  WriteSet(dir, "train", 10);
  WriteSet(dir, "t10k", 10);
  WriteIdx(dir / "t10k-labels-idx1-ubyte.gz", {9}, std::vector<uint8_t>(9, 0));
  StageHarness h("idx-images");
  h.Set("dir", dir.path().string());
  Status s = h.Run();
  EXPECT_EQ(s.message(), "t10k-images-idx3-ubyte.gz holds 10 images but t10k-labels-idx1-ubyte.gz holds 9 labels");
}

TEST(IdxImagesTest, ReportsAMissingFileByPath) {
  testing::TempDir dir;
  WriteSet(dir, "train", 10);
  StageHarness h("idx-images");
  h.Set("dir", dir.path().string());
  Status s = h.Run();
  EXPECT_EQ(s.message(), dir / "t10k-images-idx3-ubyte.gz" + ": cannot open: No such file or directory");
}

}  // namespace
}  // namespace sluice
