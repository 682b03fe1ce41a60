// Hugging Face's safetensors format: an 8-byte little-endian header length, a JSON header
// naming each tensor's dtype, shape and byte range, then the bytes. Read with the
// project's JSON library; every length and range is checked against the file before a
// byte is used.
#ifndef SLUICE_PLUGINS_COMMON_TEXT_SAFETENSORS_HPP_
#define SLUICE_PLUGINS_COMMON_TEXT_SAFETENSORS_HPP_

#include <torch/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sluice/status.hpp"

namespace sluice::text {

// Every tensor of the file, converted to float32 (F32, F16 and BF16 are read; integer
// tensors such as position_ids are read as int64). Errors name the file and the tensor.
Status ReadSafetensors(const std::string& path, std::map<std::string, torch::Tensor>& tensors);

// Writes float32 tensors (contiguous copies are made), with string metadata, to a
// temporary name renamed into place.
Status WriteSafetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                        const std::map<std::string, std::string>& metadata);

}  // namespace sluice::text

#endif  // SLUICE_PLUGINS_COMMON_TEXT_SAFETENSORS_HPP_
