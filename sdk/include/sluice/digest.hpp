// SHA-256 digests (OpenSSL's libcrypto underneath): how Sluice addresses artifacts by
// content and checks a file against the digest recorded when it was written.
#ifndef SLUICE_DIGEST_HPP_
#define SLUICE_DIGEST_HPP_

#include <cstddef>
#include <string>
#include <string_view>

#include "sluice/export.h"
#include "sluice/status.hpp"

namespace sluice {

// An incremental SHA-256. Owns its hashing state; not copyable.
class SLUICE_API Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Lowercase hex digest (64 characters). The object is finished afterwards.
  std::string HexDigest();

 private:
  void* context_;  // EVP_MD_CTX, owned
};

// The digest of a file's contents into `hex`; NotFound or IoError naming the file.
SLUICE_API Status Sha256File(const std::string& path, std::string& hex);

// Ok when the file at `path` has the SHA-256 `expected`. Otherwise an error that names
// the file as `what` (e.g. "model.pt of credit-risk v3") and says whether it is missing
// or was changed after it was recorded.
SLUICE_API Status VerifySha256(const std::string& path, const std::string& expected, const std::string& what);

}  // namespace sluice

#endif  // SLUICE_DIGEST_HPP_
