// Reads one named section of an ELF file without loading it (no dlopen, no plugin code).
#ifndef SLUICE_HOST_PLUGIN_ELF_SECTION_HPP_
#define SLUICE_HOST_PLUGIN_ELF_SECTION_HPP_

#include <optional>
#include <string>

namespace sluice::plugin {

enum class ElfReadResult { kFound, kNoSection, kNotElf, kUnreadable };

// On kFound, `contents` holds the section's bytes; `error` explains the other results.
ElfReadResult ReadElfSection(const std::string& path, const std::string& section, std::string& contents,
                             std::string& error);

// What tells two builds of a plugin apart: the linker's GNU build id (hex), or, for a
// library linked without one, "sha256:" and the file's digest.
std::string BuildId(const std::string& path);

}  // namespace sluice::plugin

#endif  // SLUICE_HOST_PLUGIN_ELF_SECTION_HPP_
