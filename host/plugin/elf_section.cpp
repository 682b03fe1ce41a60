#include "elf_section.hpp"

#include <elf.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

namespace sluice::plugin {

ElfReadResult ReadElfSection(const std::string& path, const std::string& section, std::string& contents,
                             std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return ElfReadResult::kUnreadable;
  }
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  Elf64_Ehdr header{};
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header) || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) {
    error = "not an ELF shared library";
    return ElfReadResult::kNotElf;
  }
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB) {
    error = "not a 64-bit little-endian ELF file";
    return ElfReadResult::kNotElf;
  }
  if (header.e_shentsize != sizeof(Elf64_Shdr) || header.e_shnum == 0 || header.e_shstrndx >= header.e_shnum ||
      header.e_shoff + uint64_t{header.e_shnum} * sizeof(Elf64_Shdr) > file_size) {
    error = "malformed ELF section table";
    return ElfReadResult::kNotElf;
  }
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  in.seekg(static_cast<std::streamoff>(header.e_shoff));
  in.read(reinterpret_cast<char*>(sections.data()), static_cast<std::streamsize>(sections.size() * sizeof(Elf64_Shdr)));
  const Elf64_Shdr& names = sections[header.e_shstrndx];
  if (!in || names.sh_offset + names.sh_size > file_size) {
    error = "malformed ELF section names";
    return ElfReadResult::kNotElf;
  }
  std::string name_table(names.sh_size, '\0');
  in.seekg(static_cast<std::streamoff>(names.sh_offset));
  in.read(name_table.data(), static_cast<std::streamsize>(name_table.size()));
  for (const Elf64_Shdr& s : sections) {
    if (s.sh_name >= name_table.size() || std::strcmp(name_table.c_str() + s.sh_name, section.c_str()) != 0) {
      continue;
    }
    if (s.sh_type == SHT_NOBITS || s.sh_offset + s.sh_size > file_size) {
      error = "section " + section + " is malformed";
      return ElfReadResult::kNotElf;
    }
    contents.assign(s.sh_size, '\0');
    in.seekg(static_cast<std::streamoff>(s.sh_offset));
    in.read(contents.data(), static_cast<std::streamsize>(contents.size()));
    if (!in) {
      error = "cannot read section " + section;
      return ElfReadResult::kUnreadable;
    }
    return ElfReadResult::kFound;
  }
  return ElfReadResult::kNoSection;
}

}  // namespace sluice::plugin
