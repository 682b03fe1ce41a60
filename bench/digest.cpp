// What checking a recorded SHA-256 costs: the throughput of sluice::Sha256File (OpenSSL's
// libcrypto) on a 256 MiB file in the page cache, against coreutils' sha256sum on the same
// file, five rounds each, alternating; medians and their ratio.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "sluice/digest.hpp"

namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  constexpr size_t kBytes = size_t{256} << 20;
  const std::string path =
      (std::filesystem::temp_directory_path() / ("sluice-digest-" + std::to_string(getpid()))).string();
  {
    std::vector<uint64_t> block(1 << 17);
    std::mt19937_64 rng(7);
    std::ofstream out(path, std::ios::binary);
    for (size_t written = 0; written < kBytes; written += block.size() * sizeof(uint64_t)) {
      for (uint64_t& word : block) word = rng();
      out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(block.size() * 8));
    }
  }
  const std::string peer_command = "sha256sum '" + path + "' > /dev/null";
  std::string ours_digest;
  std::vector<double> ours, peer;
  for (int round = 0; round < 6; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    if (!sluice::Sha256File(path, ours_digest).ok()) return 1;
    auto t1 = std::chrono::steady_clock::now();
    if (std::system(peer_command.c_str()) != 0) return 1;
    auto t2 = std::chrono::steady_clock::now();
    if (round == 0) continue;  // the first round warms the page cache
    ours.push_back(std::chrono::duration<double>(t1 - t0).count());
    peer.push_back(std::chrono::duration<double>(t2 - t1).count());
  }
  std::filesystem::remove(path);
  const double mib = static_cast<double>(kBytes) / (1 << 20);
  std::printf("SHA-256 of a 256 MiB file (page cache), median of 5 rounds:\n");
  std::printf("  sluice::Sha256File (OpenSSL)  %7.0f MiB/s\n", mib / Median(ours));
  std::printf("  sha256sum (coreutils)          %7.0f MiB/s\n", mib / Median(peer));
  std::printf("  ratio sluice / sha256sum       %7.2f\n", Median(peer) / Median(ours));
  std::printf("  verifying a 440 MB bundle (BERT-base) costs about %.2f s\n",
              440e6 / (static_cast<double>(kBytes) / Median(ours)));
  return 0;
}
