#include "checkpoint.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

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
  std::ostringstream shuffle;
  shuffle << state.shuffle;
  // JSON has no infinity or NaN: those are written as null.
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json history = nlohmann::json::object();
  for (const auto& [key, values] : state.history) {
    for (double v : values) history[key].push_back(number(v));
  }
  nlohmann::json j = {{"epoch", state.epoch},           {"global_step", state.global_step},
                      {"shuffle", shuffle.str()},       {"best_value", number(state.best_value)},
                      {"best_epoch", state.best_epoch}, {"bad_epochs", state.bad_epochs},
                      {"loss_scale", state.loss_scale}, {"history", history}};
  archive.write("state", c10::IValue(j.dump()));
  const std::string temporary = path + ".partial";
  archive.save_to(temporary);
  std::filesystem::rename(temporary, path);
}

void LoadCheckpoint(const std::string& path, Network& network, torch::optim::Optimizer& optimizer, TrainState& state) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
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
