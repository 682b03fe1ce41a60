#include "elf_section.hpp"

#include <elf.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <vector>

#include "sluice/digest.hpp"

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

namespace {

std::string ReadBuildId(const std::string& path) {
  std::string note, error;
  if (ReadElfSection(path, ".note.gnu.build-id", note, error) == ElfReadResult::kFound && note.size() > 16) {
    // Elf64_Nhdr (name size, descriptor size, type), the name "GNU\0", then the id.
    Elf64_Nhdr header{};
    std::memcpy(&header, note.data(), sizeof header);
    const size_t start = sizeof header + ((header.n_namesz + 3) & ~size_t{3});
    if (header.n_type == NT_GNU_BUILD_ID && start + header.n_descsz <= note.size()) {
      static const char kHex[] = "0123456789abcdef";
      std::string hex;
      for (size_t i = start; i < start + header.n_descsz; ++i) {
        const auto byte = static_cast<unsigned char>(note[i]);
        hex += kHex[byte >> 4];
        hex += kHex[byte & 15];
      }
      return hex;
    }
  }
  std::string digest;
  return Sha256File(path, digest).ok() ? "sha256:" + digest : "";
}

}  // namespace

std::string BuildId(const std::string& path) {
  // A sweep records the same plugins for every trial: read once per file as it is (a
  // rebuilt or replaced library is another inode, size or time, and read again).
  struct Known {
    dev_t device;
    ino_t inode;
    off_t size;
    timespec modified;
    std::string id;
  };
  static std::mutex mutex;
  static std::map<std::string, Known> known;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return ReadBuildId(path);
  const auto same = [&](const Known& k) {
    return k.device == st.st_dev && k.inode == st.st_ino && k.size == st.st_size &&
           k.modified.tv_sec == st.st_mtim.tv_sec && k.modified.tv_nsec == st.st_mtim.tv_nsec;
  };
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = known.find(path); it != known.end() && same(it->second)) return it->second.id;
  }
  std::string id = ReadBuildId(path);
  std::lock_guard<std::mutex> lock(mutex);
  known[path] = Known{st.st_dev, st.st_ino, st.st_size, st.st_mtim, id};
  return id;
}

}  // namespace sluice::plugin
