#include "idx_reader.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace sluice::idx {
namespace {

constexpr uint64_t kMaxElements = uint64_t{1} << 34;

bool IsGzip(const std::vector<uint8_t>& bytes, size_t at) {
  return bytes.size() >= at + 2 && bytes[at] == 0x1f && bytes[at + 1] == 0x8b;
}

// Inflates every gzip member of `compressed` into `out`. zlib checks each member's
// CRC-32 and length; a stream that ends early is an error, and so is anything after the
// last member that is not another member (gzip(1) would ignore it with a warning).
Status Gunzip(const std::string& path, const std::vector<uint8_t>& compressed, std::vector<uint8_t>& out) {
  constexpr size_t kChunk = size_t{1} << 30;  // zlib counts in 32 bits
  const size_t n = compressed.size();
  // The last member's trailer holds its size mod 2^32: a good first guess, unless the
  // file is damaged there (deflate cannot compress more than about 1032:1).
  size_t used = 0;
  const size_t trailer = n >= 18 ? (size_t{compressed[n - 4]} | size_t{compressed[n - 3]} << 8 |
                                    size_t{compressed[n - 2]} << 16 | size_t{compressed[n - 1]} << 24)
                                 : 0;
  out.assign(std::min(trailer, 1032 * n) + 1, 0);
  size_t at = 0;  // start of the current member
  while (at < n) {
    if (!IsGzip(compressed, at)) {
      return Status::InvalidArgument(path + ": " + std::to_string(n - at) +
                                     " bytes that are not gzip data after the compressed stream (from byte " +
                                     std::to_string(at) + "); the file is damaged");
    }
    z_stream z{};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return Status::Internal(path + ": cannot start zlib");
    size_t fed = at;  // compressed bytes handed to zlib so far
    int rc = Z_OK;
    for (;;) {
      if (z.avail_in == 0 && fed < n) {
        z.next_in = const_cast<Bytef*>(compressed.data() + fed);
        z.avail_in = static_cast<uInt>(std::min(kChunk, n - fed));
        fed += z.avail_in;
      }
      if (used == out.size()) {
        if (used > kMaxElements + 64) {
          inflateEnd(&z);
          return Status::InvalidArgument(path + ": decompresses to more than " + std::to_string(kMaxElements) +
                                         " bytes; not an image file this plugin can hold");
        }
        out.resize(std::max(used * 2, used + (size_t{1} << 20)));
      }
      z.next_out = out.data() + used;
      z.avail_out = static_cast<uInt>(std::min(kChunk, out.size() - used));
      const uInt room = z.avail_out;
      rc = inflate(&z, Z_NO_FLUSH);
      used += room - z.avail_out;
      if (rc == Z_STREAM_END) break;
      if (rc == Z_OK) continue;
      if (rc == Z_BUF_ERROR && z.avail_in == 0 && fed == n) {
        inflateEnd(&z);
        return Status::InvalidArgument(path + ": the gzip data ends early (after " + std::to_string(n) +
                                       " bytes): the file is truncated");
      }
      if (rc == Z_BUF_ERROR) continue;  // needs more room or input: the loop gives it
      const std::string reason = z.msg ? z.msg : "invalid data";
      const size_t where = fed - z.avail_in;
      inflateEnd(&z);
      const bool crc = reason.find("check") != std::string::npos;
      return Status::InvalidArgument(path + ": corrupt gzip data near byte " + std::to_string(where) + " (" + reason +
                                     (crc ? ": the contents do not match their CRC-32" : "") +
                                     "); the file is damaged");
    }
    at = fed - z.avail_in;
    inflateEnd(&z);
  }
  out.resize(used);
  return Status::Ok();
}

}  // namespace

Status ReadIdx(const std::string& path, int expected_rank, IdxArray& out) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open: " + std::strerror(errno ? errno : ENOENT));
  std::vector<uint8_t> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IoError(path + ": read failed: " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  if (IsGzip(raw, 0)) {
    SLUICE_RETURN_IF_ERROR(Gunzip(path, raw, bytes));
    raw = std::vector<uint8_t>();
  } else {
    bytes.swap(raw);
  }
  if (bytes.size() < 4) {
    return Status::InvalidArgument(path + ": not an IDX file (" + std::to_string(bytes.size()) +
                                   " bytes; an IDX header has at least 4)");
  }
  if (bytes[0] != 0 || bytes[1] != 0) return Status::InvalidArgument(path + ": not an IDX file (bad magic number)");
  if (bytes[2] != 0x08) {
    char type[8];
    std::snprintf(type, sizeof type, "0x%02x", bytes[2]);
    return Status::InvalidArgument(path + ": IDX element type " + type +
                                   " is not supported (only unsigned bytes, 0x08)");
  }
  const int rank = bytes[3];
  if (rank != expected_rank) {
    return Status::InvalidArgument(path + ": expected an IDX file with " + std::to_string(expected_rank) +
                                   " dimensions, found " + std::to_string(rank));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  if (bytes.size() < header) return Status::InvalidArgument(path + ": truncated IDX header");
  out.dims.clear();
  uint64_t total = 1;
  for (int i = 0; i < rank; ++i) {
    const uint8_t* be = bytes.data() + 4 + 4 * i;
    const uint32_t d = (uint32_t{be[0]} << 24) | (uint32_t{be[1]} << 16) | (uint32_t{be[2]} << 8) | be[3];
    out.dims.push_back(d);
    total *= d;
    if (total > kMaxElements) return Status::InvalidArgument(path + ": IDX dimensions are implausibly large");
  }
  const size_t got = bytes.size() - header;
  if (got < total) {
    return Status::InvalidArgument(path + ": truncated: expected " + std::to_string(total) + " bytes of data, found " +
                                   std::to_string(got));
  }
  if (got > total) {
    return Status::InvalidArgument(path + ": " + std::to_string(got - total) + " bytes after the " +
                                   std::to_string(total) + " bytes of data its header declares");
  }
  out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return Status::Ok();
}

}  // namespace sluice::idx
