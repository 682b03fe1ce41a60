// Reading contracts from ELF sections, the registry's search path, and the handshake
// checks made before any C++ call. Uses the real test plugins in tests/plugins.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <filesystem>

#include "plugin/elf_section.hpp"
#include "plugin/loader.hpp"
#include "plugin/registry.hpp"
#include "process.hpp"
#include "sluice/digest.hpp"
#include "sluice/testing/status_matchers.hpp"
#include "temp_dir.hpp"

namespace sluice::plugin {
namespace {

using testing::ProcessResult;
using testing::RunProcess;

const std::string kPlugins = SLUICE_TEST_PLUGIN_DIR;

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ElfSectionTest, ReadsTheEmbeddedContract) {
  std::string contents, error;
  ASSERT_EQ(ReadElfSection(kPlugins + "/good/test-echo.so", SLUICE_CONTRACT_SECTION, contents, error),
            ElfReadResult::kFound)
      << error;
  EXPECT_TRUE(Contains(contents, "\"name\":\"test-echo\"")) << contents;
  EXPECT_EQ(ReadElfSection(kPlugins + "/nosection/not-a-plugin.so", SLUICE_CONTRACT_SECTION, contents, error),
            ElfReadResult::kNoSection);
  EXPECT_EQ(ReadElfSection("/etc/hostname", SLUICE_CONTRACT_SECTION, contents, error), ElfReadResult::kNotElf);
  EXPECT_EQ(ReadElfSection("/nonexistent.so", SLUICE_CONTRACT_SECTION, contents, error), ElfReadResult::kUnreadable);
}

TEST(RegistryTest, ReadsContractsWithoutLoadingLibraries) {
  PluginRegistry registry({kPlugins + "/good"});
  ASSERT_EQ(registry.plugins().size(), 1u);
  const PluginDescriptor& d = registry.plugins()[0];
  EXPECT_EQ(d.name, "test-echo");
  EXPECT_EQ(d.version, "1.2.3");
  EXPECT_TRUE(d.read_without_loading);
  EXPECT_TRUE(d.incompatibility.empty()) << d.incompatibility;
  EXPECT_NE(d.contract.FindParam("behavior"), nullptr);
  std::string error;
  EXPECT_EQ(registry.Find("test-echo", error), &d);
  EXPECT_EQ(registry.Find("nope", error), nullptr);
  EXPECT_EQ(error, "unknown plugin 'nope'");
}

TEST(RegistryTest, RefusesForeignAbiAndToolchainFromTheSection) {
  PluginRegistry registry({kPlugins + "/foreign"});
  std::string error;
  EXPECT_EQ(registry.Find("test-future", error), nullptr);
  EXPECT_TRUE(Contains(error,
                       "test-future.so: built for Sluice plugin ABI 99.0, but this sluice implements ABI 1.2; "
                       "rebuild the plugin against Sluice SDK"))
      << error;
  EXPECT_EQ(registry.Find("test-other-torch", error), nullptr);
  EXPECT_TRUE(Contains(error, "built with toolchain 'cxx=libstdc++;cxx11abi=1;torch=0.1', but this sluice uses '" +
                                  std::string(HostToolchainKey()) + "'; rebuild the plugin against this Sluice SDK"))
      << error;
}

TEST(RegistryTest, LoadsLibrariesWithoutASectionToAskThemAndStillChecks) {
  PluginRegistry registry({kPlugins + "/nosection"});
  ASSERT_EQ(registry.issues().size(), 3u);
  // Sorted by file: the two plugins built by hand are named with what they cost.
  for (size_t i : {0, 1}) {
    EXPECT_TRUE(Contains(registry.issues()[i].message,
                         "built without sluice_add_plugin(): no contract is embedded in it, so reading its contract "
                         "loads the library"))
        << registry.issues()[i].path << ": " << registry.issues()[i].message;
  }
  EXPECT_TRUE(Contains(registry.issues()[2].path, "not-a-plugin.so"));
  EXPECT_TRUE(Contains(registry.issues()[2].message, "not a Sluice plugin: it has no entry point 'sluice_plugin_info'"))
      << registry.issues()[2].message;
  std::string error;
  EXPECT_EQ(registry.Find("test-future", error), nullptr);
  EXPECT_TRUE(Contains(error, "ABI 99.0")) << error;
  EXPECT_EQ(registry.Find("test-other-torch", error), nullptr);
  EXPECT_TRUE(Contains(error, "toolchain")) << error;
  for (const PluginDescriptor& d : registry.plugins()) EXPECT_FALSE(d.read_without_loading);
}

TEST(ElfSectionTest, ABuildIsTheLinkersBuildIdOrTheFilesDigest) {
  const std::string plugin = kPlugins + "/good/test-echo.so";
  const std::string id = BuildId(plugin);
  ASSERT_EQ(id.size(), 40u) << id;
  testing::TempDir dir;
  const std::string stripped = dir / "stripped.so";
  ProcessResult r = RunProcess({SLUICE_TEST_OBJCOPY, "--remove-section=.note.gnu.build-id", plugin, stripped});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string digest;
  ASSERT_OK(Sha256File(stripped, digest));
  EXPECT_EQ(BuildId(stripped), "sha256:" + digest);
}

// The versioning rule (sluice/abi.h): same major, the plugin's minor not newer than the
// host's; fields a later minor appends are read only when the plugin filled them in.
TEST(VersioningTest, APluginNeedingANewerMinorIsRefusedByName) {
  PluginRegistry registry({kPlugins + "/newer"});
  std::string error;
  EXPECT_EQ(registry.Find("test-newer-minor", error), nullptr);
  EXPECT_EQ(error, "plugin 'test-newer-minor' cannot be used: " + kPlugins +
                       "/newer/test-newer-minor.so: needs Sluice plugin ABI 1.3 (Sluice SDK 1.3), newer than this "
                       "sluice's 1.2; upgrade sluice to 1.3 or later, or rebuild the plugin against Sluice SDK 1.2");
}

// What a 1.1 host would add to the info struct: a 1.0 plugin's info lacks it, and the host
// reads the default instead of past the plugin's struct.
struct InfoV1_1 {
  SluicePluginInfo v1_0;
  const char* appended;
};

TEST(VersioningTest, AFieldAppendedByALaterMinorIsReadOnlyWhenThePluginFilledItIn) {
  std::string error;
  PluginRegistry registry({kPlugins + "/good"});
  const PluginDescriptor* echo = registry.Find("test-echo", error);
  ASSERT_NE(echo, nullptr) << error;
  const SluicePluginInfo* built_against_1_0 = LoadPlugin(*echo, error);
  ASSERT_NE(built_against_1_0, nullptr) << error;
  EXPECT_STREQ(AppendedField(*built_against_1_0, offsetof(InfoV1_1, appended), "the default"), "the default");
  InfoV1_1 newer{*built_against_1_0, "filled in"};
  newer.v1_0.struct_size = sizeof(InfoV1_1);
  newer.v1_0.abi_minor = SLUICE_ABI_MINOR + 1;
  EXPECT_STREQ(AppendedField(newer.v1_0, offsetof(InfoV1_1, appended), "the default"), "filled in");
}

TEST(RegistryTest, TwoFilesWithOneNameAreAnError) {
  PluginRegistry registry({kPlugins + "/good", kPlugins + "/duplicate"});
  std::string error;
  EXPECT_EQ(registry.Find("test-echo", error), nullptr);
  EXPECT_TRUE(Contains(error, "plugin 'test-echo' is provided by 2 files: " + kPlugins + "/good/test-echo.so, " +
                                  kPlugins + "/duplicate/test-echo.so; remove one"))
      << error;
}

TEST(RegistryTest, SearchPathComesFromTheEnvironmentFirst) {
  setenv("SLUICE_PLUGIN_PATH", "/a:/b::/c", 1);
  std::vector<std::string> path = PluginRegistry::DefaultSearchPath();
  unsetenv("SLUICE_PLUGIN_PATH");
  ASSERT_EQ(path.size(), 4u);
  EXPECT_EQ(path[0], "/a");
  EXPECT_EQ(path[2], "/c");
  EXPECT_TRUE(Contains(path[3], "lib/sluice/plugins"));
}

TEST(LoaderTest, LoadsACompatiblePluginAndKeepsItResident) {
  PluginRegistry registry({kPlugins + "/good"});
  std::string error;
  const SluicePluginInfo* info = LoadPlugin(registry.plugins()[0], error);
  ASSERT_NE(info, nullptr) << error;
  EXPECT_STREQ(info->name, "test-echo");
  EXPECT_NE(info->run_stage, nullptr);
  // Loading again hands back the same resident library.
  EXPECT_EQ(LoadPlugin(registry.plugins()[0], error), info);
}

TEST(LoaderTest, RefusesALibraryWhoseSectionWasTamperedWith) {
  testing::TempDir dir;
  const std::string copy = dir / "test-echo.so";
  std::filesystem::copy_file(kPlugins + "/good/test-echo.so", copy);
  // Replace the section with a contract the code does not report.
  std::string section, error;
  ReadElfSection(copy, SLUICE_CONTRACT_SECTION, section, error);
  const std::string altered_contract = dir.Write("contract.json", [&] {
    std::string s = section;
    s.replace(s.find("1.2.3"), 5, "1.2.4");
    return s;
  }());
  auto result =
      testing::RunProcess({SLUICE_TEST_OBJCOPY, "--update-section", ".sluice_contract=" + altered_contract, copy});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  PluginRegistry registry({dir.path().string()});
  ASSERT_EQ(registry.plugins().size(), 1u);
  EXPECT_EQ(LoadPlugin(registry.plugins()[0], error), nullptr);
  EXPECT_TRUE(Contains(error, "the contract in its .sluice_contract section differs from the one the library reports"))
      << error;
}

TEST(LoaderTest, ReportsFilesThatAreNotLibraries) {
  testing::TempDir dir;
  dir.Write("garbage.so", "this is not an ELF file\n");
  PluginRegistry registry({dir.path().string()});
  ASSERT_EQ(registry.issues().size(), 1u);
  EXPECT_EQ(registry.issues()[0].message, "not a plugin: not an ELF shared library");
  std::string error;
  EXPECT_EQ(LoadPluginInfo(dir / "garbage.so", error), nullptr);
  EXPECT_TRUE(Contains(error, "garbage.so: cannot load:")) << error;
}

}  // namespace
}  // namespace sluice::plugin
