#include "checkpoint.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sluice/digest.hpp"

namespace sluice::trainer {

void SaveCheckpoint(const std::string& path, Network& network, torch::optim::Optimizer& optimizer,
                    const TrainState& state) {
  torch::serialize::OutputArchive archive;
  for (const auto& p : network.named_parameters()) archive.write("model." + p.key(), p.value().detach().cpu());
  for (const auto& b : network.named_buffers()) archive.write("model." + b.key(), b.value().detach().cpu(), true);
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("torch_rng", generator.get_state());
  }
  std::ostringstream shuffle, masking;
  shuffle << state.shuffle;
  masking << state.masking;
  // JSON has no infinity or NaN: those are written as null.
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json history = nlohmann::json::object();
  for (const auto& [key, values] : state.history) {
    for (double v : values) history[key].push_back(number(v));
  }
  nlohmann::json j = {
      {"epoch", state.epoch},           {"global_step", state.global_step},       {"shuffle", shuffle.str()},
      {"masking", masking.str()},       {"best_value", number(state.best_value)}, {"best_epoch", state.best_epoch},
      {"bad_epochs", state.bad_epochs}, {"loss_scale", state.loss_scale},         {"history", history}};
  archive.write("state", c10::IValue(j.dump()));
  SaveWithDigest(path, [&](const std::string& temporary) {
    // Into memory first (as SaveWeights does): LibTorch writing to a file that fails (a
    // full disk) throws again from its writer's destructor, and the process aborts.
    std::ostringstream bytes;
    archive.save_to(bytes);
    const std::string data = bytes.str();
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) throw StageError("cannot write the checkpoint " + temporary + ": " + std::strerror(errno ? errno : EIO));
  });
}

void SaveWithDigest(const std::string& path, const std::function<void(const std::string&)>& save) {
  namespace fs = std::filesystem;
  const std::string temporary = path + ".partial";
  const std::string digest_file = path + ".sha256";
  try {
    save(temporary);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw;
  }
  std::string digest;
  if (Status s = Sha256File(temporary, digest); !s.ok()) throw StageError(s.message());
  {
    std::ofstream out(digest_file + ".partial", std::ios::trunc);
    out << digest << "\n";
    out.close();
    if (!out) throw StageError("cannot write " + digest_file + ".partial");
  }
  // A crash between the two renames leaves the new file with the old digest; the new
  // digest is still in PATH.sha256.partial, which VerifyDigest accepts.
  fs::rename(temporary, path);
  fs::rename(digest_file + ".partial", digest_file);
}

void VerifyDigest(const std::string& path) {
  auto read_digest = [](const std::string& file) {
    std::ifstream in(file);
    std::string digest;
    in >> digest;
    return digest;
  };
  const std::string recorded = read_digest(path + ".sha256");
  if (recorded.empty()) return;  // written by a sluice that recorded no digest
  std::string actual;
  if (Status s = Sha256File(path, actual); !s.ok()) throw StageError(s.message());
  if (actual == recorded || actual == read_digest(path + ".sha256.partial")) return;
  throw StageError(path + " was changed after it was written (SHA-256 " + actual.substr(0, 12) + "..., recorded " +
                   recorded.substr(0, 12) + "...); it cannot be resumed from. Remove it to start the stage over");
}

void LoadCheckpoint(const std::string& path, Network& network, torch::optim::Optimizer& optimizer, TrainState& state) {
  VerifyDigest(path);
  torch::serialize::InputArchive archive;
  // Onto the network's device: a checkpoint rank 0 wrote on GPU 0 is read on each rank's
  // own GPU (the optimizer's state included, which must sit beside its parameters).
  const auto parameters = network.parameters();
  const torch::Device device = parameters.empty() ? torch::Device(torch::kCPU) : parameters[0].device();
  try {
    archive.load_from(path, device);
  } catch (const std::exception& e) {
    throw StageError("cannot read checkpoint " + path + ": " + e.what());
  }
  torch::NoGradGuard no_grad;
  for (auto& p : network.named_parameters()) {
    torch::Tensor t;
    if (!archive.try_read("model." + p.key(), t) || t.sizes() != p.value().sizes()) {
      throw StageError("checkpoint " + path + " does not fit this network (parameter " + p.key() + ")");
    }
    p.value().copy_(t);
  }
  for (auto& b : network.named_buffers()) {
    torch::Tensor t;
    if (archive.try_read("model." + b.key(), t, true)) b.value().copy_(t);
  }
  torch::serialize::InputArchive optimizer_archive;
  archive.read("optimizer", optimizer_archive);
  optimizer.load(optimizer_archive);
  torch::Tensor rng;
  archive.read("torch_rng", rng);
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng);
  }
  c10::IValue text;
  archive.read("state", text);
  const nlohmann::json j = nlohmann::json::parse(text.toStringRef());
  state.epoch = j.at("epoch").get<int64_t>();
  state.global_step = j.at("global_step").get<int64_t>();
  std::istringstream shuffle(j.at("shuffle").get<std::string>());
  shuffle >> state.shuffle;
  if (j.contains("masking")) {  // written since pre-training exists
    std::istringstream masking(j.at("masking").get<std::string>());
    masking >> state.masking;
  }
  if (!j.at("best_value").is_null()) state.best_value = j.at("best_value").get<double>();  // else still +-inf
  state.best_epoch = j.at("best_epoch").get<int64_t>();
  state.bad_epochs = j.at("bad_epochs").get<int64_t>();
  state.loss_scale = j.at("loss_scale").get<double>();
  state.history.clear();
  for (const auto& [key, values] : j.at("history").items()) {
    for (const auto& v : values) state.history[key].push_back(v.is_null() ? NAN : v.get<double>());
  }
}

}  // namespace sluice::trainer
