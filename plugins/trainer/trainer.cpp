// trainer: minibatch training of a classifier or regressor on a TensorDataset.
//
// Per step: the next batch (prepared ahead by the prefetcher), forward under autocast
// when mixed precision is on, loss (cross entropy with optional class weights, or MSE),
// backward, gradient clipping, optimizer step at the scheduled learning rate. Per epoch:
// validation metrics, early stopping bookkeeping, a checkpoint. At the end: the best or
// last weights, learning-curve images, the trained model.
#include <torch/nn.h>
#include <torch/optim.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>

#include "amp.hpp"
#include "batching.hpp"
#include "checkpoint.hpp"
#include "data_parallel.hpp"
#include "forward_passes.hpp"
#include "fused_adamw.hpp"
#include "metrics.hpp"
#include "prefetcher.hpp"
#include "schedule.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"
#include "svg.hpp"

namespace {

// Ports, declared once for Describe() and Run().
const sluice::In<sluice::TensorDataset> kDataIn{"data", "training and validation splits"};
const sluice::In<sluice::ModelSpec> kModelIn{"model", "the architecture to train"};
const sluice::Out<sluice::TrainedModel> kModelOut{"model", "the trained network"};

// Parameters, declared once for Describe() and Run().
const sluice::Param<std::string> kDeviceParam{"device"};
const sluice::Param<int64_t> kEpochsParam{"epochs"};
const sluice::Param<int64_t> kBatchSizeParam{"batch_size"};
const sluice::Param<std::string> kOptimizerParam{"optimizer"};
const sluice::Param<double> kLrParam{"lr"};
const sluice::Param<double> kMomentumParam{"momentum"};
const sluice::Param<double> kWeightDecayParam{"weight_decay"};
const sluice::Param<std::string> kScheduleParam{"schedule"};
const sluice::Param<int64_t> kWarmupStepsParam{"warmup_steps"};
const sluice::Param<double> kWarmupRatioParam{"warmup_ratio"};
const sluice::Param<std::vector<std::string>> kNoDecayParam{"no_decay"};
const sluice::Param<int64_t> kBucketParam{"length_buckets"};
const sluice::Param<int64_t> kStepSizeParam{"step_size"};
const sluice::Param<double> kGammaParam{"gamma"};
const sluice::Param<double> kMinLrParam{"min_lr"};
const sluice::Param<double> kGradClipParam{"grad_clip"};
const sluice::Param<std::string> kClassWeightsParam{"class_weights"};
const sluice::Param<std::string> kEarlyStoppingParam{"early_stopping"};
const sluice::Param<int64_t> kPatienceParam{"patience"};
const sluice::Param<double> kMinDeltaParam{"min_delta"};
const sluice::Param<bool> kRestoreBestParam{"restore_best"};
const sluice::Param<std::string> kPrecisionParam{"precision"};
const sluice::Param<int64_t> kPrefetchParam{"prefetch"};
const sluice::Param<int64_t> kEvalBatchSizeParam{"eval_batch_size"};
const sluice::Param<int64_t> kLogEveryParam{"log_every"};
const sluice::Param<std::vector<double>> kClassWeightValuesParam{"class_weight_values"};
const sluice::Param<bool> kCheckReplicasParam{"check_replicas"};

using sluice::Status;
namespace F = torch::nn::functional;
namespace fs = std::filesystem;

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Validation metrics, keyed without the "val_" prefix: loss, accuracy, f1_macro, roc_auc,
// pr_auc (classification) or loss, rmse, mae, r2 (regression, in the target's units).
// Data-parallel, each rank runs its contiguous share of the rows and the ranks sum what
// they computed (zeros elsewhere), so every rank has every row's output and the same
// metrics, at 1/world of the forward passes.
std::map<std::string, double> Validate(sluice::Network& net, const sluice::TensorDataset& data,
                                       const sluice::Split& split, const torch::Device& device, int64_t batch_size,
                                       torch::ScalarType precision, sluice::trainer::DataParallel* dp) {
  torch::NoGradGuard no_grad;
  net.eval();
  const int64_t n = split.size();
  const bool regression = data.task == sluice::Task::kRegression;
  const int64_t width = regression ? 1 : data.num_classes();
  // Probabilities (n x classes) or predictions (n), then the loss's sum.
  torch::Tensor results = torch::zeros({n * width + 1}, torch::kFloat64);
  double* rows = results.data_ptr<double>();
  double loss_sum = 0;
  const int64_t lo = dp ? n * dp->rank() / dp->world_size() : 0;
  const int64_t hi = dp ? n * (dp->rank() + 1) / dp->world_size() : n;
  const int64_t pass = sluice::inference::RowsPerPass(data.schema(), device);
  for (int64_t begin = lo; begin < hi; begin += batch_size) {
    const int64_t end = std::min(hi, begin + batch_size);
    sluice::Inputs x = data.Range(split, begin, end).To(device);
    torch::Tensor y = split.targets.slice(0, begin, end).to(device);
    torch::Tensor out;
    {
      sluice::trainer::AutocastScope autocast(precision);
      out = sluice::inference::ForwardInPasses(net, x, pass);
    }
    out = out.to(torch::kFloat32);
    torch::Tensor values;
    if (regression) {
      out = out.reshape({-1});
      loss_sum += F::mse_loss(out, y, F::MSELossFuncOptions().reduction(torch::kSum)).item<double>();
      values = out.to(torch::kCPU, torch::kFloat64).mul(data.target_scale).add(data.target_shift);
    } else {
      loss_sum += F::cross_entropy(out, y, F::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
      values = torch::softmax(out, 1).to(torch::kCPU, torch::kFloat64).contiguous();
    }
    std::copy(values.data_ptr<double>(), values.data_ptr<double>() + values.numel(), rows + begin * width);
  }
  rows[n * width] = loss_sum;
  if (dp) dp->SumAcrossRanks(results);
  const std::vector<double> outputs(rows, rows + n * width);
  std::map<std::string, double> m;
  m["loss"] = rows[n * width] / static_cast<double>(n);
  torch::Tensor targets = split.targets.to(torch::kCPU, torch::kFloat64).contiguous();
  if (regression) {
    std::vector<double> truth(targets.data_ptr<double>(), targets.data_ptr<double>() + n);
    for (double& t : truth) t = t * data.target_scale + data.target_shift;
    const sluice::metrics::RegressionReport r = sluice::metrics::Regress(truth, outputs);
    m["rmse"] = r.rmse;
    m["mae"] = r.mae;
    m["r2"] = r.r2;
  } else {
    std::vector<int64_t> labels(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      labels[static_cast<size_t>(i)] = static_cast<int64_t>(targets.data_ptr<double>()[i]);
    const sluice::metrics::ClassificationReport r = sluice::metrics::Classify(labels, outputs, data.num_classes());
    m["accuracy"] = r.accuracy;
    m["f1_macro"] = r.f1_macro;
    m["roc_auc"] = r.roc_auc;
    m["pr_auc"] = r.pr_auc;
  }
  return m;
}

// Two parameter groups: with weight decay, and without it for parameters whose names
// contain a no_decay entry (biases and LayerNorm weights, as fine-tuning expects).
std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const sluice::Params& p, sluice::Network& net) {
  std::vector<torch::Tensor> decay, no_decay;
  const std::vector<std::string>& exempt = kNoDecayParam.Get(p);
  for (const auto& named : net.named_parameters()) {
    if (!named.value().requires_grad()) continue;
    const bool skip = std::any_of(exempt.begin(), exempt.end(),
                                  [&](const std::string& part) { return named.key().find(part) != std::string::npos; });
    (skip ? no_decay : decay).push_back(named.value());
  }
  const std::string& name = kOptimizerParam.Get(p);
  const double lr = kLrParam.Get(p), wd = kWeightDecayParam.Get(p);
  auto groups = [&](const auto& options) {
    std::vector<torch::optim::OptimizerParamGroup> out;
    using Options = std::decay_t<decltype(options)>;
    out.emplace_back(decay, std::make_unique<Options>(options));
    auto exempt_options = std::make_unique<Options>(options);
    exempt_options->weight_decay(0.0);
    out.emplace_back(no_decay, std::move(exempt_options));
    return out;
  };
  if (name == "sgd") {
    return std::make_unique<torch::optim::SGD>(
        groups(torch::optim::SGDOptions(lr).momentum(kMomentumParam.Get(p)).weight_decay(wd)),
        torch::optim::SGDOptions(lr));
  }
  if (name == "adam") {
    return std::make_unique<torch::optim::Adam>(groups(torch::optim::AdamOptions(lr).weight_decay(wd)),
                                                torch::optim::AdamOptions(lr));
  }
  return std::make_unique<sluice::FusedAdamW>(groups(torch::optim::AdamWOptions(lr).weight_decay(wd)),
                                              torch::optim::AdamWOptions(lr));
}

// Class weights for the loss: none, sklearn's "balanced" (n / (classes * count)), or given.
torch::Tensor ClassWeights(const sluice::Params& p, const sluice::TensorDataset& data) {
  const std::vector<double>& given = kClassWeightValuesParam.Get(p);
  const int64_t k = data.num_classes();
  if (!given.empty()) {
    if (static_cast<int64_t>(given.size()) != k) {
      throw sluice::StageError("class_weight_values has " + std::to_string(given.size()) + " weights for " +
                               std::to_string(k) + " classes");
    }
    return torch::tensor(given, torch::kFloat32);
  }
  if (kClassWeightsParam.Get(p) == "none") return {};
  torch::Tensor counts = torch::bincount(data.train.targets, {}, k).to(torch::kFloat32).clamp_min(1);
  return counts.reciprocal().mul(static_cast<double>(data.train.size()) / static_cast<double>(k));
}

// The metrics this stage logs, declared once for its contract and its Run.
using sluice::Goal;
using sluice::MetricSpec;
const MetricSpec kLoss{"loss", Goal::kMinimize, "training loss, every log_every steps (step: optimizer step)"};
const MetricSpec kSamplesPerSec{"samples_per_sec", Goal::kMaximize, "training throughput (step: epoch)"};
const MetricSpec kTokensPerSec{"tokens_per_sec", Goal::kMaximize,
                               "text: training throughput in tokens, padding excluded (step: epoch)"};
const MetricSpec kEpochSeconds{"epoch_seconds", Goal::kMinimize, "wall time of the epoch's training (step: epoch)"};
const MetricSpec kLr{"lr", Goal::kNone, "learning rate at the end of the epoch (step: epoch)"};
const MetricSpec kLossScale{"loss_scale", Goal::kNone, "fp16 loss scale (step: epoch)"};
const MetricSpec kBestEpoch{"best_epoch", Goal::kNone, "the epoch early stopping kept"};
const MetricSpec kRankSamplesPerSec{"samples_per_sec_per_rank", Goal::kMaximize,
                                    "data-parallel: training throughput of one rank (step: epoch)"};
// Validation, each epoch: what Validate() computes, as val_NAME.
const MetricSpec kValidation[] = {
    {"val_loss", Goal::kMinimize, "validation loss"},
    {"val_accuracy", Goal::kMaximize, "validation accuracy (classification)"},
    {"val_f1_macro", Goal::kMaximize, "validation macro F1 (classification)"},
    {"val_roc_auc", Goal::kMaximize, "validation ROC AUC, one-vs-rest macro (classification)"},
    {"val_pr_auc", Goal::kMaximize, "validation PR AUC (classification)"},
    {"val_rmse", Goal::kMinimize, "validation RMSE in the target's units (regression)"},
    {"val_mae", Goal::kMinimize, "validation MAE in the target's units (regression)"},
    {"val_r2", Goal::kMaximize, "validation R2 (regression)"},
};

const MetricSpec& ValidationMetric(const std::string& name) {
  for (const MetricSpec& m : kValidation) {
    if (m.name == name) return m;
  }
  throw sluice::StageError("the trainer computed an undeclared validation metric '" + name + "'");
}

bool Minimize(const std::string& metric) {
  return metric != "none" && ValidationMetric(metric).goal == Goal::kMinimize;
}

// early_stopping takes any validation metric, or none.
std::vector<std::string> EarlyStoppingChoices() {
  std::vector<std::string> choices = {"none"};
  for (const MetricSpec& m : kValidation) choices.push_back(m.name);
  return choices;
}

class Trainer final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    using sluice::ParamType;
    sluice::Contract contract =
        sluice::Contract("trainer", "0.3.0", sluice::Kind::kTrain)
            .doc(
                "Trains a classifier or regressor by minibatch gradient descent on CPU or CUDA, with schedules, "
                "early stopping and checkpoints")
            .input(kDataIn)
            .input(kModelIn)
            .output(kModelOut)
            .param(kDeviceParam.Default("auto")
                       .format(sluice::StringFormat::kDevice)
                       .doc("where to train: auto (CUDA when available), cpu, cuda or cuda:N"))
            .param(kEpochsParam.Default(5).range(1, 100000).doc("passes over the training split"))
            .param(kBatchSizeParam.Default(128).range(1, 1 << 20).doc("examples per optimizer step"))
            .param(kOptimizerParam.Default("adamw").choices({"sgd", "adam", "adamw"}).doc("update rule"))
            .param(kLrParam.Default(1e-3).greater_than(0).max(10).doc("learning rate (peak, with a schedule)"))
            .param(kMomentumParam.Default(0.9).min(0).less_than(1).doc("momentum (sgd only)"))
            .param(kWeightDecayParam.Default(0.0).min(0).doc("L2 penalty (decoupled for adamw)"))
            .param(kScheduleParam.Default("none")
                       .choices({"none", "step", "cosine", "linear"})
                       .doc("learning rate schedule after warm-up (linear: decay to 0 at the last step)"))
            .param(kWarmupStepsParam.Default(0).min(0).doc("steps of linear warm-up from 0 to lr"))
            .param(kWarmupRatioParam.Default(0.0).min(0).less_than(1).doc(
                "warm-up as a share of all steps (overrides warmup_steps when > 0)"))
            .param(kNoDecayParam.Default({"bias", "LayerNorm"})
                       .doc("parameters whose names contain one of these get no weight decay"))
            .param(kBucketParam.Default(50)
                       .range(1, 1 << 20)
                       .doc("text: sort each run of this many batches by length, so batches pad little (1: off)"))
            .param(kStepSizeParam.Default(10).min(1).doc("epochs between decays (schedule = step)"))
            .param(kGammaParam.Default(0.1).greater_than(0).max(1).doc("decay factor (schedule = step)"))
            .param(kMinLrParam.Default(0.0).min(0).doc("final learning rate (schedule = cosine)"))
            .param(kGradClipParam.Default(0.0).min(0).doc("clip the gradient norm to this (0: off)"))
            .param(kClassWeightsParam.Default("none")
                       .choices({"none", "balanced"})
                       .doc("weigh the loss per class: balanced = n / (classes * class count)"))
            .param(kClassWeightValuesParam.Required()
                       .default_value(std::vector<double>{})
                       .min(0)
                       .doc("explicit weight per class (overrides class_weights)"))
            .param(kEarlyStoppingParam.Default("none")
                       .choices(EarlyStoppingChoices())
                       .doc("stop when this validation metric stops improving"))
            .param(kPatienceParam.Default(5).min(1).doc("epochs without improvement before stopping"))
            .param(kMinDeltaParam.Default(0.0).min(0).doc("smallest change that counts as improvement"))
            .param(kRestoreBestParam.Default(true).doc("end with the best epoch's weights (early stopping)"))
            .param(kPrecisionParam.Default("fp32")
                       .choices({"fp32", "bf16", "fp16"})
                       .doc("mixed precision on CUDA: bf16, or fp16 with loss scaling"))
            .param(kPrefetchParam.Default(2).range(0, 64).doc("batches prepared ahead on a worker thread (0: off)"))
            .param(sluice::SeedParam())
            .param(kEvalBatchSizeParam.Default(1024)
                       .range(1, 1 << 20)
                       .doc(std::string("examples per validation batch ") + sluice::inference::kPassesDoc))
            .param(kLogEveryParam.Default(1).range(1, 1 << 20).doc("log train.loss every N steps"))
            .param(kCheckReplicasParam.Default(false).doc(
                "data-parallel: after every step, compare each rank's weights with rank 0's and fail on any "
                "difference (a check, costing a broadcast of the weights per step)"));
    for (const MetricSpec& m :
         {kLoss, kSamplesPerSec, kTokensPerSec, kEpochSeconds, kLr, kLossScale, kBestEpoch, kRankSamplesPerSec}) {
      contract.metric(m);
    }
    for (const MetricSpec& m : kValidation) contract.metric(m);
    return contract;
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    auto data = kDataIn.Get(ctx);
    auto spec = kModelIn.Get(ctx);
    if (data->train.size() == 0) return Status::InvalidArgument("the training split is empty");
    if (data->task == sluice::Task::kNone) {
      return Status::InvalidArgument(
          "the trainer needs labels; this data is an unlabeled corpus (pre-train an encoder on it with mlm)");
    }
    const bool regression = data->task == sluice::Task::kRegression;
    const std::string stop_metric = kEarlyStoppingParam.Get(p);
    if (stop_metric != "none") {
      const bool regression_metric = stop_metric == "val_rmse" || stop_metric == "val_mae" || stop_metric == "val_r2";
      const bool classification_metric = stop_metric != "val_loss" && !regression_metric;
      if ((regression && classification_metric) || (!regression && regression_metric)) {
        return Status::InvalidArgument("early_stopping = \"" + stop_metric + "\" does not apply to " +
                                       sluice::TaskName(data->task) + " data");
      }
      if (data->validation.size() == 0) return Status::InvalidArgument("early stopping needs a validation split");
    }

    const sluice::DistributedV1* dist = sluice::trainer::Ranks(ctx);
    const torch::Device device = sluice::trainer::RankDevice(dist, kDeviceParam.Get(p));
    ctx.RequireService<sluice::RunInfoV1>().SetEnvironment("device", device.str());
    const std::string precision_name = kPrecisionParam.Get(p);
    const torch::ScalarType precision = precision_name == "bf16"   ? torch::kBFloat16
                                        : precision_name == "fp16" ? torch::kFloat16
                                                                   : torch::kFloat32;
    if (precision != torch::kFloat32 && !device.is_cuda()) {
      return Status::InvalidArgument("precision = \"" + precision_name + "\" needs a CUDA device; this run trains on " +
                                     device.str() + " (use precision = \"fp32\")");
    }

    const auto seed = static_cast<uint64_t>(p.Int("seed"));
    torch::manual_seed(seed);
    const sluice::InputSchema schema = data->schema();
    std::shared_ptr<sluice::Network> net = spec->Build(schema);
    const std::string init = sluice::InitializeNetwork(*net, *spec);
    if (!init.empty()) ctx.Info(init);
    net->to(device);
    std::unique_ptr<torch::optim::Optimizer> optimizer = MakeOptimizer(p, *net);
    std::vector<torch::Tensor> parameters;
    for (const torch::Tensor& t : net->parameters()) {
      if (t.requires_grad()) parameters.push_back(t);
    }
    torch::Tensor class_weights = regression ? torch::Tensor() : ClassWeights(p, *data);
    const torch::Tensor class_weights_cpu = class_weights;
    if (class_weights.defined()) class_weights = class_weights.to(device);
    sluice::trainer::LossScaler scaler(precision == torch::kFloat16);

    const int64_t epochs = kEpochsParam.Get(p), batch = kBatchSizeParam.Get(p), log_every = kLogEveryParam.Get(p);
    const int64_t n = data->train.size();
    const int64_t steps = (n + batch - 1) / batch;
    sluice::trainer::Schedule schedule;
    schedule.kind = kScheduleParam.Get(p);
    schedule.base_lr = kLrParam.Get(p);
    schedule.warmup_steps =
        kWarmupRatioParam.Get(p) > 0
            ? static_cast<int64_t>(std::ceil(kWarmupRatioParam.Get(p) * static_cast<double>(steps * epochs)))
            : kWarmupStepsParam.Get(p);
    schedule.steps_per_epoch = steps;
    schedule.total_steps = steps * epochs;
    schedule.step_size = kStepSizeParam.Get(p);
    schedule.gamma = kGammaParam.Get(p);
    schedule.min_lr = kMinLrParam.Get(p);

    // Shuffling uses its own generator, so the data order does not depend on how many
    // random numbers the network's initialization drew.
    sluice::trainer::TrainState state;
    state.shuffle.seed(seed ^ 0x5eed5eed5eed5eedULL);
    state.best_value = Minimize(stop_metric) ? INFINITY : -INFINITY;
    sluice::CheckpointsV1& checkpoints = ctx.RequireService<sluice::CheckpointsV1>();
    const std::string checkpoint = (fs::path(checkpoints.Dir()) / "last.pt").string();
    const std::string best_path = (fs::path(checkpoints.Dir()) / "best.pt").string();
    if (checkpoints.Resuming() && fs::exists(checkpoint)) {
      sluice::trainer::LoadCheckpoint(checkpoint, *net, *optimizer, state);
      scaler.set_scale(state.loss_scale);
      ctx.Info("resuming after epoch " + std::to_string(state.epoch) + " (step " + std::to_string(state.global_step) +
               ") from " + checkpoint);
    }

    // Data-parallel (`sluice run --nproc N`): each rank computes its share of every batch
    // (batch_size stays the global batch: the same steps as one process), gradients are
    // summed across ranks, and every rank applies the same update.
    std::unique_ptr<sluice::trainer::DataParallel> dp;
    if (dist) {
      dp = sluice::trainer::JoinRanks(ctx, *dist, parameters);
    }
    const bool writer = !dp || dp->rank() == 0;  // the rank that writes checkpoints
    const bool check_replicas = dp && kCheckReplicasParam.Get(p);

    int64_t parameter_count = 0;
    for (const torch::Tensor& t : net->parameters()) parameter_count += t.numel();
    ctx.Info(spec->Describe(schema) + ", " + std::to_string(parameter_count) + " parameters, " +
             kOptimizerParam.Get(p) + " on " + device.str() + (precision_name == "fp32" ? "" : " " + precision_name) +
             ", " + std::to_string(epochs) + (epochs == 1 ? " epoch" : " epochs") + " of " + std::to_string(steps) +
             " steps" + (dp ? ", data-parallel over " + std::to_string(dp->world_size()) + " ranks" : ""));

    std::vector<int64_t> order(static_cast<size_t>(n));
    // Text: each training text's length in tokens, for length bucketing.
    std::vector<int64_t> lengths;
    int64_t epoch_tokens = 0;
    if (sluice::IsText(schema)) {
      const torch::Tensor counts = data->train.features.ne(sluice::kPaddingId).sum(1).contiguous();
      lengths.assign(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + n);
      for (int64_t l : lengths) epoch_tokens += l;
    }
    sluice::Progress progress;
    progress.total = steps;
    progress.figures = {{"loss", 0.0}, {"samples/s", 0.0}};
    const bool pin = device.is_cuda();
    bool stopped_early = false;

    for (int64_t epoch = state.epoch + 1; epoch <= epochs && !stopped_early; ++epoch) {
      net->train();
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), state.shuffle);
      if (!lengths.empty()) sluice::trainer::BucketByLength(order, lengths, batch, kBucketParam.Get(p), state.shuffle);
      const torch::Tensor all = torch::from_blob(order.data(), {n}, torch::kInt64);
      progress.phase = "epoch " + std::to_string(epoch) + "/" + std::to_string(epochs);
      const double epoch_start = Now();
      double loss_sum = 0;
      int64_t loss_count = 0;
      double last_loss = NAN;
      struct Batch {
        sluice::Inputs x;
        torch::Tensor y;
        double denominator = 0;  // data-parallel: what the global batch's mean loss divides by
      };
      sluice::trainer::Prefetcher<Batch> batches(
          [&](int64_t step) {
            const int64_t begin = step * batch, end = std::min(n, (step + 1) * batch);
            int64_t lo = begin, hi = end;
            double denominator = 0;
            if (dp) {  // this rank's contiguous share of the global batch
              lo = begin + (end - begin) * dp->rank() / dp->world_size();
              hi = begin + (end - begin) * (dp->rank() + 1) / dp->world_size();
              denominator = static_cast<double>(end - begin);
              if (class_weights_cpu.defined()) {
                const torch::Tensor y = data->train.targets.index_select(0, all.slice(0, begin, end));
                denominator = class_weights_cpu.index_select(0, y).sum().item<double>();
              }
            }
            const torch::Tensor idx = all.slice(0, lo, hi);
            Batch b{data->Rows(data->train, idx), data->train.targets.index_select(0, idx), denominator};
            if (pin) {
              b.x = b.x.PinMemory();
              b.y = b.y.pin_memory();
            }
            return b;
          },
          0, steps, static_cast<int>(kPrefetchParam.Get(p)));
      for (int64_t step = 0; step < steps; ++step) {
        const auto stopped = [&] {
          return Status::Cancelled("stopped in epoch " + std::to_string(epoch) + " at step " + std::to_string(step) +
                                   " of " + std::to_string(steps));
        };
        // Data-parallel ranks stop together, after the step in which one of them was asked.
        const bool stop = ctx.StopRequested();
        if (stop && !dp) return stopped();
        Batch b = batches.Next();
        const sluice::Inputs x = b.x.To(device, pin);
        const torch::Tensor y = b.y.to(device, pin);
        for (auto& group : optimizer->param_groups()) group.options().set_lr(schedule.LearningRate(state.global_step));
        sluice::ClearGradients(*optimizer);
        const bool rows = y.size(0) > 0;  // a rank may get none of a last, short batch
        torch::Tensor loss;
        if (rows) {
          sluice::trainer::AutocastScope autocast(precision);
          torch::Tensor out = net->Forward(x);
          if (regression) {
            out = out.to(torch::kFloat32).reshape({-1});
            loss = dp ? F::mse_loss(out, y, F::MSELossFuncOptions().reduction(torch::kSum)).div(b.denominator)
                      : F::mse_loss(out, y);
          } else {
            auto options = F::CrossEntropyFuncOptions();
            if (class_weights.defined()) options.weight(class_weights);
            // Data-parallel: this rank's share of the global batch's mean, so that the
            // gradients' sum over the ranks is the gradient of that mean.
            if (dp) options.reduction(torch::kSum);
            loss = F::cross_entropy(out.to(torch::kFloat32), y, options);
            if (dp) loss = loss.div(b.denominator);
          }
        }
        // Data-parallel: the global batch's loss is summed with the gradients.
        double global_loss = 0;
        if (dp) dp->BeginStep(rows ? loss.item<double>() : 0.0, stop);
        if (rows) scaler.Scale(loss).backward();
        if (dp) {
          global_loss = dp->FinishStep();
          if (dp->StopAgreed()) return stopped();
        }
        if (scaler.Unscale(parameters)) {
          if (kGradClipParam.Get(p) > 0) torch::nn::utils::clip_grad_norm_(parameters, kGradClipParam.Get(p));
          optimizer->step();
        }
        if (check_replicas) {
          const double difference = dp->SumAcrossRanks(dp->MaxDifferenceFromRank0());
          if (difference != 0) {
            return Status::Internal("data-parallel ranks diverged: after step " +
                                    std::to_string(state.global_step + 1) + " the weights differ from rank 0's by " +
                                    std::to_string(difference));
          }
        }
        ++state.global_step;
        if (state.global_step % log_every == 0 || step + 1 == steps) {
          last_loss = dp ? global_loss : loss.item<double>();
          if (!std::isfinite(last_loss)) {
            return Status::InvalidArgument("the training loss became " + std::to_string(last_loss) + " in epoch " +
                                           std::to_string(epoch) + " (learning rate too high?)");
          }
          ctx.Log(kLoss, state.global_step, last_loss);
          loss_sum += last_loss;
          ++loss_count;
        }
        progress.done = step + 1;
        progress.figures[0].second = last_loss;
        progress.figures[1].second =
            static_cast<double>(std::min(n, (step + 1) * batch)) / std::max(1e-9, Now() - epoch_start);
        ctx.ReportProgress(progress);
      }
      const double seconds = Now() - epoch_start;
      const double samples_per_sec = static_cast<double>(n) / seconds;
      ctx.Log(kSamplesPerSec, epoch, samples_per_sec);
      if (dp) ctx.Log(kRankSamplesPerSec, epoch, samples_per_sec / dp->world_size());
      if (epoch_tokens > 0) ctx.Log(kTokensPerSec, epoch, static_cast<double>(epoch_tokens) / seconds);
      ctx.Log(kEpochSeconds, epoch, seconds);
      ctx.Log(kLr, epoch, schedule.LearningRate(state.global_step - 1));
      if (scaler.enabled()) ctx.Log(kLossScale, epoch, scaler.scale());
      state.history["train_loss"].push_back(loss_count ? loss_sum / static_cast<double>(loss_count) : NAN);

      char line[256];
      std::snprintf(line, sizeof line, "epoch %lld/%lld: loss %.4f, %.0f samples/s", static_cast<long long>(epoch),
                    static_cast<long long>(epochs), last_loss, samples_per_sec);
      std::string summary = line;
      if (data->validation.size() > 0) {
        const auto val =
            Validate(*net, *data, data->validation, device, kEvalBatchSizeParam.Get(p), precision, dp.get());
        for (const auto& [name, value] : val) {
          ctx.Log(ValidationMetric("val_" + name), epoch, value);
          state.history["val_" + name].push_back(value);
          std::snprintf(line, sizeof line, ", val_%s %.4f", name.c_str(), value);
          summary += line;
        }
        if (stop_metric != "none") {
          const double value = val.at(stop_metric.substr(4));
          const double delta = kMinDeltaParam.Get(p);
          const bool better =
              Minimize(stop_metric) ? value < state.best_value - delta : value > state.best_value + delta;
          if (better) {
            state.best_value = value;
            state.best_epoch = epoch;
            state.bad_epochs = 0;
            if (writer) {
              sluice::trainer::SaveWithDigest(best_path,
                                              [&](const std::string& file) { sluice::SaveWeights(*net, file); });
            }
          } else if (++state.bad_epochs >= kPatienceParam.Get(p)) {
            stopped_early = true;
            summary += "; early stop: " + stop_metric + " has not improved for " + std::to_string(state.bad_epochs) +
                       " epochs (best " + std::to_string(state.best_value) + " at epoch " +
                       std::to_string(state.best_epoch) + ")";
          }
        }
      }
      ctx.Info(summary);
      state.epoch = epoch;
      state.loss_scale = scaler.scale();
      if (writer) sluice::trainer::SaveCheckpoint(checkpoint, *net, *optimizer, state);
    }

    if (stop_metric != "none" && state.best_epoch > 0) {
      ctx.Log(kBestEpoch, 0, static_cast<double>(state.best_epoch));
      if (kRestoreBestParam.Get(p) && state.best_epoch != state.epoch) {
        if (dp) dp->Barrier();  // rank 0 has written best.pt
        sluice::trainer::VerifyDigest(best_path);
        sluice::LoadWeights(*net, best_path);
        if (dp) dp->Barrier();  // every rank has read it before rank 0 goes on (and removes it)
        ctx.Info("restored the weights of epoch " + std::to_string(state.best_epoch) + " (best " + stop_metric + ")");
      }
    }

    const std::string dir = ctx.ScratchDir();
    SLUICE_RETURN_IF_ERROR(WriteCurves(ctx, state, dir));
    sluice::SaveWeights(*net, dir + "/model.pt");
    SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("model", dir + "/model.pt"));

    auto trained = std::make_shared<sluice::TrainedModel>();
    trained->spec = spec;
    trained->network = net;
    trained->task = data->task;
    trained->schema = schema;
    trained->class_names = data->class_names;
    trained->target_name = data->target_name;
    trained->preprocessing = data->preprocessing;
    trained->target_shift = data->target_shift;
    trained->target_scale = data->target_scale;
    trained->device = device;
    kModelOut.Set(ctx, std::move(trained));
    return Status::Ok();
  }

 private:
  // learning_curves.svg (losses per epoch) and validation_metrics.svg (the rest).
  static Status WriteCurves(sluice::StageContext& ctx, const sluice::trainer::TrainState& state,
                            const std::string& dir) {
    std::vector<sluice::svg::Series> losses, others;
    for (const auto& [name, values] : state.history) {
      sluice::svg::Series s;
      s.label = name;
      for (size_t i = 0; i < values.size(); ++i) {
        s.x.push_back(static_cast<double>(i + 1));
        s.y.push_back(values[i]);
      }
      s.dashed = name.rfind("val_", 0) == 0;
      (name.find("loss") != std::string::npos ? losses : others).push_back(std::move(s));
    }
    if (!losses.empty()) {
      const std::string path = dir + "/learning_curves.svg";
      if (!sluice::svg::WriteFile(path,
                                  sluice::svg::LineChart(losses, {"Learning curves", "epoch", "loss", false, true}))) {
        return Status::IoError("cannot write " + path);
      }
      SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("learning_curves", path));
    }
    if (!others.empty()) {
      const std::string path = dir + "/validation_metrics.svg";
      if (!sluice::svg::WriteFile(
              path, sluice::svg::LineChart(others, {"Validation metrics", "epoch", "value", false, true}))) {
        return Status::IoError("cannot write " + path);
      }
      SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("validation_metrics", path));
    }
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(Trainer)
