#include "safetensors.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "sluice/excerpt.hpp"

namespace sluice::text {
namespace {

constexpr uint64_t kMaxHeader = 100u << 20;  // as the reference implementation limits it

bool DtypeOf(const std::string& name, torch::ScalarType& type, int64_t& size) {
  static const std::pair<const char*, std::pair<torch::ScalarType, int64_t>> kTypes[] = {
      {"F32", {torch::kFloat32, 4}}, {"F16", {torch::kFloat16, 2}}, {"BF16", {torch::kBFloat16, 2}},
      {"F64", {torch::kFloat64, 8}}, {"I64", {torch::kInt64, 8}},   {"I32", {torch::kInt32, 4}},
      {"I16", {torch::kInt16, 2}},   {"I8", {torch::kInt8, 1}},     {"U8", {torch::kUInt8, 1}}};
  for (const auto& [n, t] : kTypes) {
    if (name == n) {
      type = t.first;
      size = t.second;
      return true;
    }
  }
  return false;
}

}  // namespace

Status ReadSafetensors(const std::string& path, std::map<std::string, torch::Tensor>& tensors) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Status::NotFound(path + ": cannot open");
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  unsigned char prefix[8];
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(prefix), 8)) {
    return Status::InvalidArgument(path + ": truncated (" + std::to_string(file_size) +
                                   " bytes; a safetensors file starts with an 8-byte header length)");
  }
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | prefix[i];
  if (header_size > kMaxHeader || header_size > file_size - 8) {
    return Status::InvalidArgument(path + ": the header claims " + std::to_string(header_size) +
                                   " bytes, the file has " + std::to_string(file_size - 8) +
                                   " after the length (truncated, or not safetensors)");
  }
  std::string header_text(header_size, '\0');
  in.read(header_text.data(), static_cast<std::streamsize>(header_size));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(path + ": the header is not JSON: " + MessageExcerpt(e));
  }
  if (!header.is_object()) return Status::InvalidArgument(path + ": the header is not a JSON object");
  const uint64_t data_size = file_size - 8 - header_size;
  std::string data(data_size, '\0');
  if (!in.read(data.data(), static_cast<std::streamsize>(data_size))) return Status::IoError(path + ": read failed");
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string where = path + ": tensor '" + Excerpt(name, 120) + "'";
    try {
      torch::ScalarType type{};
      int64_t item = 0;
      const std::string dtype = info.at("dtype").get<std::string>();
      if (!DtypeOf(dtype, type, item))
        return Status::InvalidArgument(where + " has dtype " + Excerpt(dtype) + ", which sluice does not read");
      const auto shape = info.at("shape").get<std::vector<int64_t>>();
      const auto offsets = info.at("data_offsets").get<std::vector<uint64_t>>();
      uint64_t count = 1;
      for (int64_t d : shape) {
        if (d < 0) return Status::InvalidArgument(where + " has a negative dimension");
        if (__builtin_mul_overflow(count, static_cast<uint64_t>(d), &count)) {
          return Status::InvalidArgument(where + " has a shape of more than 2^64 values");
        }
      }
      uint64_t bytes = 0;
      if (__builtin_mul_overflow(count, static_cast<uint64_t>(item), &bytes)) {
        return Status::InvalidArgument(where + " has a shape of more than 2^64 bytes");
      }
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size) {
        return Status::InvalidArgument(where + " lies outside the file's " + std::to_string(data_size) +
                                       " data bytes (truncated?)");
      }
      if (offsets[1] - offsets[0] != bytes) {
        return Status::InvalidArgument(where + " has " + std::to_string(offsets[1] - offsets[0]) + " bytes for " +
                                       std::to_string(count) + " " + dtype + " values");
      }
      torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(type));
      if (count > 0) std::memcpy(t.data_ptr(), data.data() + offsets[0], offsets[1] - offsets[0]);
      const bool floating =
          type == torch::kFloat32 || type == torch::kFloat16 || type == torch::kBFloat16 || type == torch::kFloat64;
      tensors[name] = t.to(floating ? torch::kFloat32 : torch::kInt64);
    } catch (const nlohmann::json::exception& e) {
      return Status::InvalidArgument(where + " is described wrongly in the header: " + MessageExcerpt(e));
    }
  }
  return Status::Ok();
}

Status WriteSafetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    torch::Tensor t = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const auto bytes = static_cast<uint64_t>(t.numel()) * 4;
    header[name] = {{"dtype", "F32"}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(t);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    unsigned char prefix[8];
    uint64_t n = text.size();
    for (unsigned char& b : prefix) {
      b = static_cast<unsigned char>(n & 0xFF);
      n >>= 8;
    }
    out.write(reinterpret_cast<const char*>(prefix), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const torch::Tensor& t : data) {
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * 4));
    }
    out.close();
    if (!out) return Status::IoError("cannot write " + partial + ": " + std::strerror(errno ? errno : EIO));
  }
  std::error_code ec;
  std::filesystem::rename(partial, path, ec);
  if (ec) return Status::IoError("cannot write " + path + ": " + ec.message());
  return Status::Ok();
}

}  // namespace sluice::text
