// mlm: pre-trains a transformer encoder with BERT's masked-language-model objective on
// texts (an unlabeled corpus, or the text column of any text dataset: labels are not
// used). Per step: a batch of similar lengths, 15% of its ordinary tokens chosen (80%
// [MASK], 10% random, 10% kept), cross entropy on the chosen ones through a head tied to
// the word embeddings; AdamW without decay on biases and LayerNorm weights; linear warm-up
// and decay. Per epoch: validation MLM loss and masked-token accuracy, a checkpoint (the
// masking generator included, so `sluice run --resume` continues bit-exactly). The result
// is an encoder (no task head) that a bundle stage registers and fine-tuning starts from.
#include <torch/nn.h>
#include <torch/optim.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include <nlohmann/json.hpp>

#include "../trainer/batching.hpp"
#include "../trainer/checkpoint.hpp"
#include "../trainer/data_parallel.hpp"
#include "../trainer/schedule.hpp"
#include "fused_adamw.hpp"
#include "hf_checkpoint.hpp"
#include "mlm.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"
#include "text_encoding.hpp"

namespace {

const sluice::In<sluice::TensorDataset> kDataIn{"data", "texts (labels, if any, are not used)"};
const sluice::In<sluice::ModelSpec> kModelIn{"model", "a transformer with head = \"none\""};
const sluice::In<sluice::TrainedModel> kInitIn{
    "init",
    "an encoder pre-trained before (an earlier mlm stage's model) to go on from: pre-training in phases, a larger "
    "general corpus first, then the task's own texts",
    true};
const sluice::Out<sluice::TrainedModel> kModelOut{"model", "the pre-trained encoder"};

const sluice::Param<std::string> kDeviceParam{"device"};
const sluice::Param<int64_t> kEpochsParam{"epochs"};
const sluice::Param<int64_t> kBatchSizeParam{"batch_size"};
const sluice::Param<double> kLrParam{"lr"};
const sluice::Param<double> kWeightDecayParam{"weight_decay"};
const sluice::Param<double> kWarmupRatioParam{"warmup_ratio"};
const sluice::Param<double> kMaskProbabilityParam{"mask_probability"};
const sluice::Param<double> kGradClipParam{"grad_clip"};
const sluice::Param<int64_t> kBucketParam{"length_buckets"};
const sluice::Param<int64_t> kLogEveryParam{"log_every"};
const sluice::Param<int64_t> kEvalBatchSizeParam{"eval_batch_size"};

using sluice::Goal;
using sluice::MetricSpec;
const MetricSpec kLoss{"mlm_loss", Goal::kMinimize,
                       "masked-token cross entropy, every log_every steps (step: optimizer step)"};
const MetricSpec kAccuracy{"mlm_accuracy", Goal::kMaximize,
                           "masked tokens predicted right in the epoch's training (step: epoch)"};
const MetricSpec kValLoss{"val_mlm_loss", Goal::kMinimize, "validation masked-token cross entropy (step: epoch)"};
const MetricSpec kValAccuracy{"val_mlm_accuracy", Goal::kMaximize, "validation masked-token accuracy (step: epoch)"};
const MetricSpec kTokensPerSec{"tokens_per_sec", Goal::kMaximize,
                               "training throughput in tokens, padding excluded (step: epoch)"};
const MetricSpec kEpochSeconds{"epoch_seconds", Goal::kMinimize, "wall time of the epoch's training (step: epoch)"};
const MetricSpec kLr{"lr", Goal::kNone, "learning rate at the end of the epoch (step: epoch)"};

using sluice::Status;
namespace fs = std::filesystem;
using json = nlohmann::json;
using sluice::text::BertConfig;

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// The encoder's architecture from the transformer stage's recorded parameters.
BertConfig ConfigFrom(const sluice::ModelSpec& spec, const sluice::InputSchema& schema) {
  const json p = json::parse(spec.origin.params_json);
  if (spec.origin.plugin != "transformer") {
    throw sluice::StageError("mlm pre-trains transformer encoders; the model comes from " + spec.origin.plugin);
  }
  if (p.value("head", "classification") != "none") {
    throw sluice::StageError("pre-training makes an encoder: set head = \"none\" on the transformer stage '" +
                             spec.origin.stage + "'");
  }
  return sluice::text::ConfigFromTransformerParams(p, schema.categorical_cardinality.at(0), 0);
}

class Mlm final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    return sluice::Contract("mlm", "0.1.0", sluice::Kind::kTrain)
        .doc("Pre-trains a transformer encoder with BERT's masked-language-model objective")
        .input(kDataIn)
        .input(kModelIn)
        .input(kInitIn)
        .output(kModelOut)
        .param(kDeviceParam.Default("auto").format(sluice::StringFormat::kDevice).doc("where to train"))
        .param(kEpochsParam.Default(3).range(1, 100000).doc("passes over the training texts"))
        .param(kBatchSizeParam.Default(32).range(1, 1 << 16).doc("texts per optimizer step"))
        .param(kLrParam.Default(5e-4).greater_than(0).max(1).doc("peak learning rate"))
        .param(kWeightDecayParam.Default(0.01).min(0).doc("decoupled weight decay (not on biases or LayerNorm)"))
        .param(kWarmupRatioParam.Default(0.06).min(0).less_than(1).doc("linear warm-up as a share of all steps"))
        .param(kMaskProbabilityParam.Default(0.15).greater_than(0).less_than(1).doc(
            "share of ordinary tokens chosen (80% [MASK], 10% random, 10% kept)"))
        .param(kGradClipParam.Default(1.0).min(0).doc("clip the gradient norm to this (0: off)"))
        .param(kBucketParam.Default(50).range(1, 1 << 20).doc("sort each run of this many batches by length (1: off)"))
        .param(kLogEveryParam.Default(10).range(1, 1 << 20).doc("log mlm_loss every N steps"))
        .param(kEvalBatchSizeParam.Default(64).range(1, 1 << 16).doc("texts per validation batch"))
        .param(sluice::SeedParam())
        .metric(kLoss)
        .metric(kAccuracy)
        .metric(kValLoss)
        .metric(kValAccuracy)
        .metric(kTokensPerSec)
        .metric(kEpochSeconds)
        .metric(kLr);
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    auto data = kDataIn.Get(ctx);
    auto spec = kModelIn.Get(ctx);
    const sluice::InputSchema schema = data->schema();
    if (!sluice::IsText(schema))
      return Status::InvalidArgument("mlm pre-trains on text data (e.g. from the text plugin)");
    if (data->train.size() == 0) return Status::InvalidArgument("the training split is empty");
    sluice::text::TextPreprocessing pre;
    const json preprocessing = json::parse(data->preprocessing);
    SLUICE_RETURN_IF_ERROR(sluice::text::TextPreprocessing::FromJson(preprocessing, pre));
    auto earlier = kInitIn.Get(ctx);
    if (earlier) {
      if (!spec->init_weights.empty()) {
        return Status::InvalidArgument("give the model stage's init_from or this stage's init input, not both");
      }
      const json theirs = json::parse(earlier->preprocessing, nullptr, false);
      if (theirs.is_discarded() || !theirs.contains("tokenizer") || theirs["tokenizer"] != preprocessing["tokenizer"]) {
        return Status::InvalidArgument(
            "init: that encoder was pre-trained with another tokenizer than this data's; tokenize every phase's "
            "corpus with the same vocab (or tokenizer)");
      }
    }
    sluice::text::Masking masking;
    masking.probability = kMaskProbabilityParam.Get(p);
    const sluice::text::Tokenizer& tokenizer = *pre.tokenizer;
    masking.mask_id = tokenizer.mask_id();
    masking.vocab_size = tokenizer.size();
    masking.special = {tokenizer.cls_id(), tokenizer.sep_id(), tokenizer.unk_id(), tokenizer.mask_id()};

    const sluice::DistributedV1* dist = sluice::trainer::Ranks(ctx);
    const torch::Device device = sluice::trainer::RankDevice(dist, kDeviceParam.Get(p));
    ctx.RequireService<sluice::RunInfoV1>().SetEnvironment("device", device.str());
    const auto seed = static_cast<uint64_t>(p.Int("seed"));
    torch::manual_seed(seed);
    const BertConfig config = ConfigFrom(*spec, schema);
    auto net = std::make_shared<sluice::text::MlmNetwork>(config);
    const std::string init = sluice::InitializeNetwork(*net->encoder(), *spec);
    if (!init.empty()) ctx.Info(init);
    if (earlier) {
      SLUICE_RETURN_IF_ERROR(GoOnFrom(*earlier, *net->encoder()));
      ctx.Info("starting from the init input's encoder (" + std::to_string(net->encoder()->parameters().size()) +
               " tensors) with a fresh MLM head");
    }
    net->to(device);

    // AdamW, without decay for biases and LayerNorm weights.
    std::vector<torch::Tensor> decay, no_decay;
    for (const auto& named : net->named_parameters()) {
      if (!named.value().requires_grad()) continue;
      const bool exempt =
          named.key().find("bias") != std::string::npos || named.key().find("LayerNorm") != std::string::npos;
      (exempt ? no_decay : decay).push_back(named.value());
    }
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                   torch::optim::AdamWOptions(kLrParam.Get(p)).weight_decay(kWeightDecayParam.Get(p))));
    groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(
                                      torch::optim::AdamWOptions(kLrParam.Get(p)).weight_decay(0.0)));
    sluice::FusedAdamW optimizer(std::move(groups), torch::optim::AdamWOptions(kLrParam.Get(p)));
    std::vector<torch::Tensor> parameters = decay;
    parameters.insert(parameters.end(), no_decay.begin(), no_decay.end());

    const int64_t epochs = kEpochsParam.Get(p), batch = kBatchSizeParam.Get(p), n = data->train.size();
    const int64_t steps = (n + batch - 1) / batch;
    sluice::trainer::Schedule schedule;
    schedule.kind = "linear";
    schedule.base_lr = kLrParam.Get(p);
    schedule.steps_per_epoch = steps;
    schedule.total_steps = steps * epochs;
    schedule.warmup_steps =
        static_cast<int64_t>(std::ceil(kWarmupRatioParam.Get(p) * static_cast<double>(steps * epochs)));

    sluice::trainer::TrainState state;
    state.shuffle.seed(seed ^ 0x5eed5eed5eed5eedULL);
    state.masking.seed(seed ^ 0x6d61736b6d61736bULL);
    sluice::CheckpointsV1& checkpoints = ctx.RequireService<sluice::CheckpointsV1>();
    const std::string checkpoint = (fs::path(checkpoints.Dir()) / "last.pt").string();
    if (checkpoints.Resuming() && fs::exists(checkpoint)) {
      sluice::trainer::LoadCheckpoint(checkpoint, *net, optimizer, state);
      ctx.Info("resuming after epoch " + std::to_string(state.epoch) + " (step " + std::to_string(state.global_step) +
               ") from " + checkpoint);
    }
    // Data-parallel (`sluice run --nproc N`): as the trainer's. Every rank masks the whole
    // global batch (one masking generator, the same draws as one process) and computes its
    // contiguous share; its loss is its share of the global batch's masked-token mean.
    std::unique_ptr<sluice::trainer::DataParallel> dp;
    if (dist) {
      std::vector<torch::Tensor> in_order;  // the module's order: the reverse of the backward pass's
      for (const torch::Tensor& t : net->parameters()) {
        if (t.requires_grad()) in_order.push_back(t);
      }
      dp = sluice::trainer::JoinRanks(ctx, *dist, in_order);
    }
    int64_t count = 0;
    for (const auto& t : net->encoder()->parameters()) count += t.numel();
    ctx.Info("pre-training bert " + std::to_string(config.num_hidden_layers) + "x" +
             std::to_string(config.hidden_size) + " (" + std::to_string(count) + " parameters) on " +
             std::to_string(n) + " texts, " + std::to_string(epochs) + " epochs of " + std::to_string(steps) +
             " steps on " + device.str() +
             (dp ? ", data-parallel over " + std::to_string(dp->world_size()) + " ranks" : ""));

    const torch::Tensor lengths_t = data->train.features.ne(sluice::kPaddingId).sum(1).contiguous();
    const std::vector<int64_t> lengths(lengths_t.data_ptr<int64_t>(), lengths_t.data_ptr<int64_t>() + n);
    std::vector<int64_t> order(static_cast<size_t>(n));
    sluice::Progress progress;
    progress.total = steps;
    progress.figures = {{"mlm loss", 0.0}, {"tokens/s", 0.0}};
    for (int64_t epoch = state.epoch + 1; epoch <= epochs; ++epoch) {
      net->train();
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), state.shuffle);
      sluice::trainer::BucketByLength(order, lengths, batch, kBucketParam.Get(p), state.shuffle);
      progress.phase = "epoch " + std::to_string(epoch) + "/" + std::to_string(epochs);
      const double start = Now();
      int64_t tokens = 0, correct_sum = 0, chosen_sum = 0;
      double last = NAN;
      for (int64_t step = 0; step < steps; ++step) {
        const auto stopped = [&] {
          return Status::Cancelled("stopped in epoch " + std::to_string(epoch) + " at step " + std::to_string(step));
        };
        const bool stop = ctx.StopRequested();  // data-parallel ranks stop together, after this step
        if (stop && !dp) return stopped();
        const int64_t begin = step * batch, end = std::min(n, begin + batch);
        const torch::Tensor idx = torch::from_blob(order.data() + begin, {end - begin}, torch::kInt64).clone();
        for (int64_t i = begin; i < end; ++i) tokens += lengths[static_cast<size_t>(order[static_cast<size_t>(i)])];
        torch::Tensor labels;
        torch::Tensor ids =
            sluice::text::MaskTokens(data->train.features.index_select(0, idx), masking, state.masking, labels);
        int64_t global_chosen = 0;
        if (dp) {
          global_chosen = labels.ne(-100).sum().item<int64_t>();
          const int64_t rows = end - begin;
          const int64_t lo = rows * dp->rank() / dp->world_size(), hi = rows * (dp->rank() + 1) / dp->world_size();
          ids = ids.slice(0, lo, hi);
          labels = labels.slice(0, lo, hi);
        }
        for (auto& group : optimizer.param_groups()) group.options().set_lr(schedule.LearningRate(state.global_step));
        sluice::ClearGradients(optimizer);
        int64_t correct = 0, chosen = 0;
        // A rank whose share has no masked token (or no rows) skips its backward pass.
        const bool any = !dp || labels.ne(-100).any().item<bool>();
        torch::Tensor loss;
        if (any) {
          loss = net->Loss(ids.to(device), labels.to(device), &correct, &chosen);
          if (dp)
            loss = loss * (static_cast<double>(chosen) / static_cast<double>(std::max<int64_t>(1, global_chosen)));
        }
        double global_loss = 0;
        if (dp) dp->BeginStep(any ? loss.item<double>() : 0.0, stop);
        if (any) loss.backward();
        if (dp) {
          global_loss = dp->FinishStep();
          if (dp->StopAgreed()) return stopped();
        }
        if (kGradClipParam.Get(p) > 0) torch::nn::utils::clip_grad_norm_(parameters, kGradClipParam.Get(p));
        optimizer.step();
        ++state.global_step;
        correct_sum += correct;
        chosen_sum += chosen;
        if (state.global_step % kLogEveryParam.Get(p) == 0 || step + 1 == steps) {
          last = dp ? global_loss : loss.item<double>();
          if (!std::isfinite(last)) {
            return Status::InvalidArgument("the MLM loss became " + std::to_string(last) + " in epoch " +
                                           std::to_string(epoch) + " (learning rate too high?)");
          }
          ctx.Log(kLoss, state.global_step, last);
        }
        progress.done = step + 1;
        progress.figures[0].second = last;
        progress.figures[1].second = static_cast<double>(tokens) / std::max(1e-9, Now() - start);
        ctx.ReportProgress(progress);
      }
      const double seconds = Now() - start;
      if (dp) {  // the masked-token accuracy of all ranks' shares
        correct_sum = std::llround(dp->SumAcrossRanks(static_cast<double>(correct_sum)));
        chosen_sum = std::llround(dp->SumAcrossRanks(static_cast<double>(chosen_sum)));
      }
      ctx.Log(kTokensPerSec, epoch, static_cast<double>(tokens) / seconds);
      ctx.Log(kEpochSeconds, epoch, seconds);
      ctx.Log(kLr, epoch, schedule.LearningRate(state.global_step - 1));
      const double accuracy = chosen_sum ? static_cast<double>(correct_sum) / static_cast<double>(chosen_sum) : 0.0;
      ctx.Log(kAccuracy, epoch, accuracy);
      char line[256];
      std::snprintf(line, sizeof line, "epoch %lld/%lld: mlm loss %.4f, masked accuracy %.4f, %.0f tokens/s",
                    static_cast<long long>(epoch), static_cast<long long>(epochs), last, accuracy,
                    static_cast<double>(tokens) / seconds);
      std::string summary = line;
      if (data->validation.size() > 0) {
        double val_loss = 0, val_accuracy = 0;
        Validate(*net, *data, masking, seed, kEvalBatchSizeParam.Get(p), device, dp.get(), val_loss, val_accuracy);
        ctx.Log(kValLoss, epoch, val_loss);
        ctx.Log(kValAccuracy, epoch, val_accuracy);
        std::snprintf(line, sizeof line, ", val mlm loss %.4f, val masked accuracy %.4f", val_loss, val_accuracy);
        summary += line;
      }
      ctx.Info(summary);
      state.epoch = epoch;
      if (!dp || dp->rank() == 0) sluice::trainer::SaveCheckpoint(checkpoint, *net, optimizer, state);
    }

    const std::string dir = ctx.ScratchDir();
    sluice::SaveWeights(*net->encoder(), dir + "/encoder.pt");
    SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("encoder", dir + "/encoder.pt"));
    auto trained = std::make_shared<sluice::TrainedModel>();
    trained->spec = spec;
    trained->network = net->encoder();
    trained->task = sluice::Task::kNone;
    trained->schema = schema;
    trained->schema.num_outputs = config.hidden_size;
    trained->target_name = "";
    trained->preprocessing = data->preprocessing;
    trained->device = device;
    kModelOut.Set(ctx, std::move(trained));
    return Status::Ok();
  }

 private:
  // Copies an earlier phase's encoder into `encoder`, every parameter and buffer by name
  // and shape (the MLM head starts afresh). As sluice::LoadWeights does from a file.
  static Status GoOnFrom(const sluice::TrainedModel& earlier, torch::nn::Module& encoder) {
    auto from = earlier.network->named_parameters();
    auto from_buffers = earlier.network->named_buffers();
    torch::NoGradGuard no_grad;
    auto copy = [](const std::string& name, torch::Tensor& to, const torch::Tensor* source) -> Status {
      if (source == nullptr) return Status::InvalidArgument("init: that encoder has no tensor " + name);
      if (!source->sizes().equals(to.sizes())) {
        return Status::InvalidArgument("init: " + name + " is " + c10::str(source->sizes()) + " there and " +
                                       c10::str(to.sizes()) + " here: give both phases' model the same sizes");
      }
      to.copy_(*source);
      return Status::Ok();
    };
    for (auto& named : encoder.named_parameters()) {
      SLUICE_RETURN_IF_ERROR(copy(named.key(), named.value(), from.find(named.key())));
    }
    for (auto& named : encoder.named_buffers()) {
      SLUICE_RETURN_IF_ERROR(copy(named.key(), named.value(), from_buffers.find(named.key())));
    }
    return Status::Ok();
  }

  // Validation: the same tokens masked every epoch (a generator seeded afresh), so epochs
  // compare. Data-parallel, every rank masks every batch (the generator's sequence stays
  // one process's) but runs only every world-th, and the ranks sum the counts.
  static void Validate(sluice::text::MlmNetwork& net, const sluice::TensorDataset& data,
                       const sluice::text::Masking& masking, uint64_t seed, int64_t batch, const torch::Device& device,
                       sluice::trainer::DataParallel* dp, double& loss, double& accuracy) {
    torch::NoGradGuard no_grad;
    net.eval();
    std::mt19937_64 rng(seed ^ 0x76616c6964617465ULL);
    const int64_t n = data.validation.size();
    double loss_sum = 0;
    int64_t correct_sum = 0, chosen_sum = 0;
    for (int64_t begin = 0, k = 0; begin < n; begin += batch, ++k) {
      torch::Tensor labels;
      const torch::Tensor ids = sluice::text::MaskTokens(
          data.validation.features.slice(0, begin, std::min(n, begin + batch)), masking, rng, labels);
      if (dp && k % dp->world_size() != dp->rank()) continue;
      int64_t correct = 0, chosen = 0;
      const double l = net.Loss(ids.to(device), labels.to(device), &correct, &chosen).item<double>();
      loss_sum += l * static_cast<double>(chosen);
      correct_sum += correct;
      chosen_sum += chosen;
    }
    if (dp) {
      torch::Tensor sums =
          torch::tensor({loss_sum, static_cast<double>(correct_sum), static_cast<double>(chosen_sum)}, torch::kFloat64);
      dp->SumAcrossRanks(sums);
      loss_sum = sums[0].item<double>();
      correct_sum = std::llround(sums[1].item<double>());
      chosen_sum = std::llround(sums[2].item<double>());
    }
    loss = chosen_sum ? loss_sum / static_cast<double>(chosen_sum) : NAN;
    accuracy = chosen_sum ? static_cast<double>(correct_sum) / static_cast<double>(chosen_sum) : 0.0;
    net.train();
  }
};

}  // namespace

SLUICE_PLUGIN(Mlm)
