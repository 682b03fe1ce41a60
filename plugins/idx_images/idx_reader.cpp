#include "idx_reader.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace sluice::idx {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// Reads exactly `size` bytes; returns how many were read.
size_t ReadFully(gzFile file, void* out, size_t size) {
  size_t done = 0;
  auto* p = static_cast<unsigned char*>(out);
  while (done < size) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(size - done, 1u << 30));
    const int n = gzread(file, p + done, chunk);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace

Status ReadIdx(const std::string& path, int expected_rank, IdxArray& out) {
  errno = 0;
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (!file) return Status::NotFound(path + ": cannot open: " + std::strerror(errno ? errno : ENOENT));
  gzbuffer(file.get(), 1 << 17);
  unsigned char magic[4];
  if (ReadFully(file.get(), magic, 4) != 4) return Status::InvalidArgument(path + ": not an IDX file (too short)");
  if (magic[0] != 0 || magic[1] != 0) {
    return Status::InvalidArgument(path + ": not an IDX file (bad magic number)");
  }
  if (magic[2] != 0x08) {
    char type[8];
    std::snprintf(type, sizeof type, "0x%02x", magic[2]);
    return Status::InvalidArgument(path + ": IDX element type " + type +
                                   " is not supported (only unsigned bytes, 0x08)");
  }
  const int rank = magic[3];
  if (rank != expected_rank) {
    return Status::InvalidArgument(path + ": expected an IDX file with " + std::to_string(expected_rank) +
                                   " dimensions, found " + std::to_string(rank));
  }
  out.dims.clear();
  uint64_t total = 1;
  for (int i = 0; i < rank; ++i) {
    unsigned char be[4];
    if (ReadFully(file.get(), be, 4) != 4) return Status::InvalidArgument(path + ": truncated IDX header");
    const uint32_t d = (uint32_t{be[0]} << 24) | (uint32_t{be[1]} << 16) | (uint32_t{be[2]} << 8) | be[3];
    out.dims.push_back(d);
    total *= d;
  }
  if (total > (uint64_t{1} << 34)) return Status::InvalidArgument(path + ": IDX dimensions are implausibly large");
  out.data.resize(total);
  const size_t got = ReadFully(file.get(), out.data.data(), out.data.size());
  if (got != total) {
    return Status::InvalidArgument(path + ": truncated: expected " + std::to_string(total) + " bytes of data, found " +
                                   std::to_string(got));
  }
  return Status::Ok();
}

}  // namespace sluice::idx
