// WordPiece throughput: BERT's tokenizer (plugins/common/text) over texts, one per line of
// a file, several rounds; prints MB/s and tokens/s of the median round.
//   sluice_bench_tokenizer VOCAB_DIR TEXTS [ROUNDS [IDS_OUT MAX_LENGTH]]
// With IDS_OUT, also writes each text's ids ([CLS] ... [SEP], truncated to MAX_LENGTH),
// one line of space-separated numbers per text: what text_training.py's PyTorch peer reads.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "wordpiece.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s VOCAB_DIR TEXTS [ROUNDS]\n", argv[0]);
    return 2;
  }
  sluice::text::WordPiece tokenizer;
  if (auto s = sluice::text::LoadHuggingFaceTokenizer(argv[1], tokenizer); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  std::ifstream in(argv[2]);
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (std::string line; std::getline(in, line);) {
    bytes += line.size();
    texts.push_back(std::move(line));
  }
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 5;
  std::vector<double> seconds;
  size_t tokens = 0;
  std::vector<int64_t> ids;
  for (int r = 0; r < rounds; ++r) {
    tokens = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (const std::string& t : texts) {
      ids.clear();
      tokens += static_cast<size_t>(tokenizer.Encode(t, 1 << 30, ids));
    }
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (argc > 5) {
    std::ofstream out(argv[4]);
    for (const std::string& t : texts) {
      ids.clear();
      tokenizer.Encode(t, std::atoll(argv[5]), ids);
      for (size_t i = 0; i < ids.size(); ++i) out << (i ? " " : "") << ids[i];
      out << "\n";
    }
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  std::printf("{\"texts\": %zu, \"bytes\": %zu, \"tokens\": %zu, \"median_s\": %.6f, \"mb_per_s\": %.3f}\n",
              texts.size(), bytes, tokens, median, static_cast<double>(bytes) / 1e6 / median);
  return 0;
}
