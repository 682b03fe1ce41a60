// IDX parsing on small files written here, compressed and not.
#include <gtest/gtest.h>
#include <zlib.h>

#include "idx_reader.hpp"
#include "sluice/testing/status_matchers.hpp"
#include "temp_dir.hpp"

namespace sluice::idx {
namespace {

using testing::ReadFile;

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
  ASSERT_OK(ReadIdx(WriteGz(dir / "x.gz", bytes), 3, a));
  ASSERT_OK(ReadIdx(dir.Write("x.idx", bytes), 3, b));
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

  s = ReadIdx(dir.Write("short.idx", std::string("\0\0", 2)), 1, a);
  EXPECT_EQ(s.message(), dir / "short.idx" + ": not an IDX file (2 bytes; an IDX header has at least 4)");

  s = ReadIdx(dir.Write("long.idx", Idx(0x08, {2}, {1, 2, 3})), 1, a);
  EXPECT_EQ(s.message(), dir / "long.idx" + ": 1 bytes after the 2 bytes of data its header declares");
}

// A damaged download must say so, not "too short" or "bad magic number", and gzip's
// trailing garbage is not ignored.
TEST(IdxReaderTest, TellsADamagedGzipFileFromAWrongOne) {
  testing::TempDir dir;
  std::vector<uint8_t> pixels(4096);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 7919) % 251);
  const std::string good = ReadFile(WriteGz(dir / "good.gz", Idx(0x08, {4, 32, 32}, pixels)));
  IdxArray a;
  ASSERT_OK(ReadIdx(dir / "good.gz", 3, a));
  EXPECT_EQ(a.data, pixels);

  std::string crc = good;
  crc[crc.size() - 8] = static_cast<char>(crc[crc.size() - 8] ^ 0x55);  // the CRC-32 in the trailer
  Status s = ReadIdx(dir.Write("crc.gz", crc), 3, a);
  EXPECT_EQ(s.message(), dir / "crc.gz" + ": corrupt gzip data near byte " + std::to_string(crc.size() - 4) +
                             " (incorrect data check: the contents do not match their CRC-32); the file is damaged");

  std::string flipped = good;
  for (size_t i = 20; i < 60; ++i) flipped[i] = static_cast<char>(~flipped[i]);
  s = ReadIdx(dir.Write("flipped.gz", flipped), 3, a);
  EXPECT_NE(s.message().find(dir / "flipped.gz" + ": corrupt gzip data near byte"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("the file is damaged"), std::string::npos) << s.message();

  s = ReadIdx(dir.Write("cut.gz", good.substr(0, good.size() / 2)), 3, a);
  EXPECT_EQ(s.message(), dir / "cut.gz" + ": the gzip data ends early (after " + std::to_string(good.size() / 2) +
                             " bytes): the file is truncated");

  s = ReadIdx(dir.Write("junk.gz", good + "junk!"), 3, a);
  EXPECT_EQ(s.message(), dir / "junk.gz" + ": 5 bytes that are not gzip data after the compressed stream (from byte " +
                             std::to_string(good.size()) + "); the file is damaged");

  // Two gzip members one after the other are one file, as gzip(1) reads them.
  const std::string bytes = Idx(0x08, {4, 32, 32}, pixels);
  const std::string first = ReadFile(WriteGz(dir / "1.gz", bytes.substr(0, 100)));
  const std::string second = ReadFile(WriteGz(dir / "2.gz", bytes.substr(100)));
  ASSERT_OK(ReadIdx(dir.Write("two.gz", first + second), 3, a));
  EXPECT_EQ(a.data, pixels);
}

}  // namespace
}  // namespace sluice::idx
