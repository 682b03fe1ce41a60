// trainer: minibatch training of a classifier on a TensorDataset.
#include <torch/nn.h>
#include <torch/optim.h>
#include <torch/serialize.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"

namespace {

using sluice::Status;
namespace F = torch::nn::functional;

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
};

Evaluation Evaluate(sluice::Network& net, const sluice::TensorDataset& data, const sluice::Split& split,
                    const torch::Device& device, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  net.eval();
  double loss_sum = 0;
  int64_t correct = 0;
  const int64_t n = split.size();
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(n, begin + batch_size);
    torch::Tensor x = data.Range(split, begin, end).to(device);
    torch::Tensor y = split.targets.slice(0, begin, end).to(device);
    torch::Tensor logits = net.forward(x);
    loss_sum += F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
    correct += logits.argmax(1).eq(y).sum().item<int64_t>();
  }
  return {loss_sum / static_cast<double>(n), static_cast<double>(correct) / static_cast<double>(n)};
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const sluice::Params& p, sluice::Network& net) {
  const std::string& name = p.String("optimizer");
  const double lr = p.Float("lr"), wd = p.Float("weight_decay");
  if (name == "sgd") {
    return std::make_unique<torch::optim::SGD>(
        net.parameters(), torch::optim::SGDOptions(lr).momentum(p.Float("momentum")).weight_decay(wd));
  }
  if (name == "adam") {
    return std::make_unique<torch::optim::Adam>(net.parameters(), torch::optim::AdamOptions(lr).weight_decay(wd));
  }
  return std::make_unique<torch::optim::AdamW>(net.parameters(), torch::optim::AdamWOptions(lr).weight_decay(wd));
}

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

class Trainer final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    return sluice::Contract("trainer", "0.1.0", sluice::Kind::kTrain)
        .doc("Trains a classifier with minibatch gradient descent (SGD, Adam, AdamW) on CPU or CUDA")
        .input("data", sluice::ports::kDataset, "training and validation splits")
        .input("model", sluice::ports::kModel, "the architecture to train")
        .output("model", sluice::ports::kTrainedModel, "the trained network")
        .param(sluice::StringParam("device", "auto")
                   .format(sluice::StringFormat::kDevice)
                   .doc("where to train: auto (CUDA when available), cpu, cuda or cuda:N"))
        .param(sluice::IntParam("epochs", 5).range(1, 100000).doc("passes over the training split"))
        .param(sluice::IntParam("batch_size", 128).range(1, 1 << 20).doc("examples per optimizer step"))
        .param(sluice::ChoiceParam("optimizer", "adamw", {"sgd", "adam", "adamw"}).doc("update rule"))
        .param(sluice::FloatParam("lr", 1e-3).greater_than(0).max(10).doc("learning rate"))
        .param(sluice::FloatParam("momentum", 0.9).min(0).less_than(1).doc("momentum (sgd only)"))
        .param(sluice::FloatParam("weight_decay", 0.0).min(0).doc("L2 penalty (decoupled for adamw)"))
        .param(sluice::SeedParam())
        .param(sluice::IntParam("eval_batch_size", 1024).range(1, 1 << 20).doc("batch size for validation"))
        .param(sluice::IntParam("log_every", 1).range(1, 1 << 20).doc("log train.loss every N steps"));
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    auto data = ctx.Input<sluice::TensorDataset>("data");
    auto spec = ctx.Input<sluice::ModelSpec>("model");
    if (data->train.size() == 0) return Status::InvalidArgument("the training split is empty");
    const torch::Device device = sluice::ResolveDevice(p.String("device"));
    ctx.SetEnvironment("device", device.str());

    const auto seed = static_cast<uint64_t>(p.Int("seed"));
    torch::manual_seed(seed);
    std::shared_ptr<sluice::Network> net = spec->Build(data->sample_shape, data->num_classes());
    net->to(device);
    std::unique_ptr<torch::optim::Optimizer> optimizer = MakeOptimizer(p, *net);
    int64_t parameter_count = 0;
    for (const torch::Tensor& t : net->parameters()) parameter_count += t.numel();

    const int64_t epochs = p.Int("epochs"), batch = p.Int("batch_size"), log_every = p.Int("log_every");
    const int64_t n = data->train.size();
    const int64_t steps = (n + batch - 1) / batch;
    ctx.Info(spec->Describe(data->sample_shape, data->num_classes()) + ", " + std::to_string(parameter_count) +
             " parameters, " + p.String("optimizer") + " on " + device.str() + ", " + std::to_string(epochs) +
             " epochs of " + std::to_string(steps) + " steps");

    // Shuffling uses its own generator, so the data order does not depend on how many
    // random numbers the network's initialization drew.
    std::mt19937_64 rng(seed ^ 0x5eed5eed5eed5eedULL);
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    sluice::Progress progress;
    progress.unit = "step";
    progress.total = steps;
    progress.figures = {{"loss", 0.0}, {"samples/s", 0.0}};
    int64_t global_step = 0;
    double last_loss = NAN;

    for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
      net->train();
      std::shuffle(order.begin(), order.end(), rng);
      const torch::Tensor all = torch::from_blob(order.data(), {n}, torch::kInt64);
      progress.phase = "epoch " + std::to_string(epoch) + "/" + std::to_string(epochs);
      const double epoch_start = Now();
      for (int64_t step = 0; step < steps; ++step) {
        if (ctx.StopRequested()) {
          return Status::Cancelled("stopped in epoch " + std::to_string(epoch) + " at step " + std::to_string(step) +
                                   " of " + std::to_string(steps));
        }
        const torch::Tensor idx = all.slice(0, step * batch, std::min(n, (step + 1) * batch));
        torch::Tensor x = data->Batch(data->train, idx).to(device);
        torch::Tensor y = data->train.targets.index_select(0, idx).to(device);
        optimizer->zero_grad();
        torch::Tensor loss = F::cross_entropy(net->forward(x), y);
        loss.backward();
        optimizer->step();
        ++global_step;
        if (global_step % log_every == 0 || step + 1 == steps) {
          last_loss = loss.item<double>();
          if (!std::isfinite(last_loss)) {
            return Status::InvalidArgument("the training loss became " + std::to_string(last_loss) + " in epoch " +
                                           std::to_string(epoch) + " (learning rate too high?)");
          }
          ctx.LogMetric("loss", global_step, last_loss);
        }
        progress.done = step + 1;
        progress.figures[0].second = last_loss;
        progress.figures[1].second =
            static_cast<double>(std::min(n, (step + 1) * batch)) / std::max(1e-9, Now() - epoch_start);
        ctx.ReportProgress(progress);
      }
      const double seconds = Now() - epoch_start;
      const double samples_per_sec = static_cast<double>(n) / seconds;
      ctx.LogMetric("samples_per_sec", epoch, samples_per_sec);
      ctx.LogMetric("epoch_seconds", epoch, seconds);
      char line[200];
      if (data->validation.size() > 0) {
        Evaluation val = Evaluate(*net, *data, data->validation, device, p.Int("eval_batch_size"));
        ctx.LogMetric("val_loss", epoch, val.loss);
        ctx.LogMetric("val_accuracy", epoch, val.accuracy);
        std::snprintf(line, sizeof line, "epoch %lld/%lld: loss %.4f, val_loss %.4f, val_accuracy %.4f, %.0f samples/s",
                      static_cast<long long>(epoch), static_cast<long long>(epochs), last_loss, val.loss, val.accuracy,
                      samples_per_sec);
      } else {
        std::snprintf(line, sizeof line, "epoch %lld/%lld: loss %.4f, %.0f samples/s", static_cast<long long>(epoch),
                      static_cast<long long>(epochs), last_loss, samples_per_sec);
      }
      ctx.Info(line);
    }

    // The weights, as a LibTorch archive, among the run's artifacts.
    const std::string path = ctx.ScratchDir() + "/model.pt";
    torch::serialize::OutputArchive archive;
    net->save(archive);
    archive.save_to(path);
    SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("model", path));

    auto trained = std::make_shared<sluice::TrainedModel>();
    trained->spec = spec;
    trained->network = net;
    trained->sample_shape = data->sample_shape;
    trained->class_names = data->class_names;
    trained->device = device;
    ctx.SetOutput("model", std::move(trained));
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(Trainer)
