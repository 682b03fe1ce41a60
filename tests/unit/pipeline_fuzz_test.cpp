// Seeded random mutations of real pipeline files through parse, overrides and validation:
// whatever the bytes, the host answers with diagnostics that point into the file, never
// with a crash or an escaping exception (run under ASan/UBSan in CI).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "pipeline/diagnostics.hpp"
#include "pipeline/resolved.hpp"
#include "pipeline/spec.hpp"
#include "plugin/registry.hpp"
#include "temp_dir.hpp"

namespace sluice::pipeline {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Seeds() {
  std::vector<std::string> texts;
  for (const fs::path& dir :
       {fs::path(SLUICE_TEST_SOURCE_DIR) / "golden" / "bad", fs::path(SLUICE_TEST_SOURCE_DIR) / ".." / "pipelines"}) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".toml") texts.push_back(testing::ReadFile(entry.path().string()));
    }
  }
  return texts;
}

std::string Mutate(std::string text, std::mt19937_64& rng) {
  static const std::string kAlphabet = "[]{}=\".,'#\n \t0123456789abcxyz-_+eE";
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits && !text.empty(); ++e) {
    const size_t at = rng() % text.size();
    switch (rng() % 5) {
      case 0:
        text[at] = kAlphabet[rng() % kAlphabet.size()];
        break;  // replace
      case 1:
        text.erase(at, 1 + rng() % 8);
        break;  // delete
      case 2:
        text.insert(at, 1, kAlphabet[rng() % kAlphabet.size()]);
        break;  // insert
      case 3:
        text.insert(at, text.substr(rng() % text.size(), 1 + rng() % 16));
        break;  // duplicate
      default:
        text[at] = static_cast<char>(rng() % 256);
        break;  // any byte
    }
  }
  return text;
}

TEST(PipelineFuzzTest, MutatedFilesNeverCrashTheChecker) {
  // The built-in plugins' contracts, read from the build tree as the host reads them.
  const plugin::PluginRegistry registry(
      {SLUICE_TEST_BUILTIN_PLUGIN_DIR, std::string(SLUICE_TEST_PLUGIN_DIR) + "/good"});
  ASSERT_GE(registry.plugins().size(), 5u);
  const std::vector<std::string> seeds = Seeds();
  ASSERT_GE(seeds.size(), 10u);
  std::mt19937_64 rng(20261128);
  int valid = 0, invalid = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string text = Mutate(seeds[static_cast<size_t>(i) % seeds.size()], rng);
    SourceTexts texts;
    Diagnostics diag;
    try {
      PipelineSpec spec = ParsePipeline("fuzz.toml", text, texts, diag);
      ApplyOverrides(spec, {Mutate("train.lr=3e-4", rng)}, texts, diag);
      Validate(spec, registry, diag);
      const std::string rendered = diag.Render(texts);
      for (const Diagnostic& d : diag.Sorted()) {
        EXPECT_FALSE(d.message.empty());
        EXPECT_GE(d.loc.line, 0);
      }
      (diag.empty() ? valid : invalid)++;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "exception escaped (" << e.what() << ") for input:\n" << text;
      break;
    }
  }
  EXPECT_GT(invalid, 0);
  RecordProperty("valid", valid);
}

}  // namespace
}  // namespace sluice::pipeline
