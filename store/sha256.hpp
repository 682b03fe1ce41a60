// SHA-256 (FIPS 180-4), for content-addressed artifacts.
#ifndef SLUICE_STORE_SHA256_HPP_
#define SLUICE_STORE_SHA256_HPP_

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace sluice::store {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Lowercase hex digest. The object is finished afterwards.
  std::string HexDigest();

 private:
  void Block(const uint8_t* block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// Digest of a file's contents; throws StoreError if it cannot be read.
std::string Sha256File(const std::filesystem::path& path);

}  // namespace sluice::store

#endif  // SLUICE_STORE_SHA256_HPP_
