// Weights on disk, and starting a network from another run's or a registered model's.
#include <torch/serialize.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "sluice/excerpt.hpp"
#include "sluice/torch.hpp"

namespace sluice {

void SaveWeights(Network& network, const std::string& path) {
  // A flat archive keyed by full parameter names ("layers.0.weight"): readable whatever
  // the module nesting, and by name when only some parameters fit another network.
  torch::serialize::OutputArchive archive;
  for (const auto& p : network.named_parameters()) archive.write(p.key(), p.value().detach().cpu());
  for (const auto& b : network.named_buffers()) archive.write(b.key(), b.value().detach().cpu(), /*is_buffer=*/true);
  // Into memory first, then to the file with each step checked: LibTorch writing to a file
  // that fails (a full disk) throws again from its writer's destructor, and the process
  // aborts.
  std::ostringstream bytes;
  archive.save_to(bytes);
  const std::string data = bytes.str();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) {
    const int error = errno;
    std::error_code ignored;
    if (std::filesystem::is_regular_file(path, ignored)) std::filesystem::remove(path, ignored);
    throw StageError("cannot write the weights to " + path + ": " + std::strerror(error ? error : EIO));
  }
}

namespace {

// Opens a weights archive, with an error that names the file and says what is wrong
// (LibTorch's own message carries a C++ backtrace and speaks of TorchScript).
void OpenArchive(torch::serialize::InputArchive& archive, const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw StageError("cannot read the weights of " + what + ": " + path + " is missing");
  }
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    std::string reason = e.what_without_backtrace();
    reason = reason.substr(0, reason.find('\n'));
    throw StageError("cannot read the weights of " + what + ": " + path +
                     " is not a LibTorch archive (damaged or truncated?): " + Excerpt(reason, 200));
  }
}

}  // namespace

void LoadWeights(Network& network, const std::string& path) {
  torch::serialize::InputArchive archive;
  OpenArchive(archive, path, "the model");
  torch::NoGradGuard no_grad;
  for (auto& p : network.named_parameters()) {
    torch::Tensor t;
    if (!archive.try_read(p.key(), t)) throw StageError(path + ": no parameter '" + p.key() + "'");
    if (t.sizes() != p.value().sizes()) {
      throw StageError(path + ": parameter '" + p.key() + "' has shape " + c10::str(t.sizes()) + ", the network " +
                       c10::str(p.value().sizes()));
    }
    p.value().copy_(t);
  }
  for (auto& b : network.named_buffers()) {
    torch::Tensor t;
    if (archive.try_read(b.key(), t, /*is_buffer=*/true) && t.sizes() == b.value().sizes()) b.value().copy_(t);
  }
}

Contract& AddInitParams(Contract& contract) {
  return contract
      .param(ParamSpec("init_from", ParamType::kString)
                 .optional()
                 .doc("start from trained weights: a run id (or prefix), or a registered model NAME[:VERSION|@ALIAS]"))
      .param(StringListParam("freeze", {})
                 .doc("keep parameters whose names start with these prefixes fixed (e.g. [\"features\"]); needs "
                      "init_from"));
}

void ReadInitParams(StageContext& ctx, ModelSpec& spec) {
  const Params& p = ctx.params();
  spec.freeze = p.StringList("freeze");
  if (!p.Has("init_from")) {
    if (!spec.freeze.empty()) throw StageError("freeze needs init_from: there are no trained weights to keep");
    return;
  }
  ModelReference ref;
  Status s = ctx.RequireService<ModelRegistryV1>().Resolve(p.String("init_from"), ref);
  if (!s.ok()) throw StageError("init_from: " + s.message());
  spec.init_weights = ref.weights;
  spec.init_from = ref.description;
}

std::string InitializeNetwork(Network& network, const ModelSpec& spec) {
  if (spec.init_weights.empty()) return "";
  torch::serialize::InputArchive archive;
  OpenArchive(archive, spec.init_weights, spec.init_from);
  torch::NoGradGuard no_grad;
  int64_t loaded = 0;
  std::vector<std::string> fresh;
  for (auto& p : network.named_parameters()) {
    torch::Tensor t;
    if (archive.try_read(p.key(), t) && t.sizes() == p.value().sizes()) {
      p.value().copy_(t);
      ++loaded;
    } else {
      fresh.push_back(p.key());
    }
  }
  for (auto& b : network.named_buffers()) {
    torch::Tensor t;
    if (archive.try_read(b.key(), t, /*is_buffer=*/true) && t.sizes() == b.value().sizes()) b.value().copy_(t);
  }
  if (loaded == 0) {
    throw StageError("none of the network's parameters match the weights of " + spec.init_from +
                     " (a different architecture?)");
  }
  int64_t frozen = 0;
  std::set<std::string> used;
  for (auto& p : network.named_parameters()) {
    for (const std::string& prefix : spec.freeze) {
      if (p.key().rfind(prefix, 0) == 0) {
        p.value().set_requires_grad(false);
        ++frozen;
        used.insert(prefix);
      }
    }
  }
  for (const std::string& prefix : spec.freeze) {
    if (!used.count(prefix)) {
      std::string names;
      for (const auto& p : network.named_parameters()) names += (names.empty() ? "" : ", ") + p.key();
      throw StageError("freeze: no parameter name starts with '" + prefix + "' (the network has " + names + ")");
    }
  }
  std::string summary = "initialized " + std::to_string(loaded) + " parameter tensors from " + spec.init_from;
  if (!fresh.empty()) {
    summary += "; fresh (no matching shape): ";
    for (size_t i = 0; i < fresh.size(); ++i) summary += (i ? ", " : "") + fresh[i];
  }
  if (frozen > 0) summary += "; " + std::to_string(frozen) + " frozen";
  return summary;
}

}  // namespace sluice
