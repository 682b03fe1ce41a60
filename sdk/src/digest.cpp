#include "sluice/digest.hpp"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace sluice {

namespace {
EVP_MD_CTX* Context(void* p) { return static_cast<EVP_MD_CTX*>(p); }

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
}  // namespace

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (!context_ || EVP_DigestInit_ex(Context(context_), EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
}

Sha256::~Sha256() { EVP_MD_CTX_free(Context(context_)); }

void Sha256::Update(const void* data, size_t size) { EVP_DigestUpdate(Context(context_), data, size); }

std::string Sha256::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(Context(context_), digest, &size);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

Status Sha256File(const std::string& path, std::string& hex) {
  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    const int error = errno;
    const std::string message = path + ": cannot read: " + std::strerror(error);
    return error == ENOENT ? Status::NotFound(message) : Status::IoError(message);
  }
  Sha256 hash;
  std::vector<char> chunk(1 << 20);
  size_t n = 0;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), file.get())) > 0) hash.Update(chunk.data(), n);
  if (std::ferror(file.get())) return Status::IoError(path + ": read failed: " + std::strerror(errno));
  hex = hash.HexDigest();
  return Status::Ok();
}

Status VerifySha256(const std::string& path, const std::string& expected, const std::string& what) {
  std::string actual;
  Status s = Sha256File(path, actual);
  if (s.code() == Status::Code::kNotFound) {
    return Status::NotFound(what + " is missing (" + path + "); it was recorded with SHA-256 " +
                            expected.substr(0, 12) + "...");
  }
  if (!s.ok()) return Status::IoError(what + ": " + s.message());
  if (actual != expected) {
    return Status::InvalidArgument(what + " was changed after it was recorded (" + path + ": SHA-256 " +
                                   actual.substr(0, 12) + "..., recorded " + expected.substr(0, 12) + "...)");
  }
  return Status::Ok();
}

}  // namespace sluice
