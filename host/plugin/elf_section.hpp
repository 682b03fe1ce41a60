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

}  // namespace sluice::plugin

#endif  // SLUICE_HOST_PLUGIN_ELF_SECTION_HPP_
