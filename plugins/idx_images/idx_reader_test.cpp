// IDX parsing on small files written here, compressed and not.
#include <gtest/gtest.h>
#include <zlib.h>

#include "idx_reader.hpp"
#include "temp_dir.hpp"

namespace sluice::idx {
namespace {

std::string Idx(uint8_t type, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::string bytes = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes += static_cast<char>((d >> shift) & 0xff);
  }
  bytes.append(data.begin(), data.end());
  return bytes;
}

std::string WriteGz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  return path;
}

TEST(IdxReaderTest, ReadsCompressedAndPlainFiles) {
  testing::TempDir dir;
  const std::string bytes = Idx(0x08, {2, 2, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  IdxArray a, b;
  ASSERT_TRUE(ReadIdx(WriteGz(dir / "x.gz", bytes), 3, a).ok());
  ASSERT_TRUE(ReadIdx(dir.Write("x.idx", bytes), 3, b).ok());
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 2, 3}));
  EXPECT_EQ(a.data.size(), 12u);
  EXPECT_EQ(a.data[11], 12);
  EXPECT_EQ(a.data, b.data);
}

TEST(IdxReaderTest, ExplainsWhatIsWrongWithAFile) {
  testing::TempDir dir;
  IdxArray a;
  Status s = ReadIdx(dir / "missing.gz", 1, a);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_EQ(s.message(), dir / "missing.gz" + ": cannot open: No such file or directory");

  s = ReadIdx(WriteGz(dir / "t.gz", Idx(0x08, {5}, {1, 2, 3})), 1, a);
  EXPECT_EQ(s.message(), dir / "t.gz" + ": truncated: expected 5 bytes of data, found 3");

  s = ReadIdx(WriteGz(dir / "r.gz", Idx(0x08, {3}, {1, 2, 3})), 3, a);
  EXPECT_EQ(s.message(), dir / "r.gz" + ": expected an IDX file with 3 dimensions, found 1");

  s = ReadIdx(WriteGz(dir / "f.gz", Idx(0x0D, {1}, {0, 0, 0, 0})), 1, a);
  EXPECT_EQ(s.message(), dir / "f.gz" + ": IDX element type 0x0d is not supported (only unsigned bytes, 0x08)");

  s = ReadIdx(dir.Write("text.idx", "hello, world"), 1, a);
  EXPECT_EQ(s.message(), dir / "text.idx" + ": not an IDX file (bad magic number)");
}

}  // namespace
}  // namespace sluice::idx
