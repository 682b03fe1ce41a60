// Reads IDX files (the MNIST format), gzip-compressed or not. No LibTorch here.
#ifndef SLUICE_PLUGINS_IDX_IMAGES_IDX_READER_HPP_
#define SLUICE_PLUGINS_IDX_IMAGES_IDX_READER_HPP_

#include <cstdint>
#include <string>
#include <vector>

#include "sluice/status.hpp"

namespace sluice::idx {

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. {60000, 28, 28}
  std::vector<uint8_t> data;  // row-major, unsigned bytes
};

// Reads an IDX file of unsigned bytes (type 0x08) with `expected_rank` dimensions.
// Errors name the file and what is wrong with it.
Status ReadIdx(const std::string& path, int expected_rank, IdxArray& out);

}  // namespace sluice::idx

#endif  // SLUICE_PLUGINS_IDX_IMAGES_IDX_READER_HPP_
