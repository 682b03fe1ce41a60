// hf-import: registers a Hugging Face BERT folder as a Sluice text model (what `sluice
// models import DIR` runs): the weights in Sluice's (= Hugging Face's) names, the
// tokenizer and maximum length as its "text" preprocessing, and a manifest that rebuilds
// it with the transformer plugin. An encoder without a task head predicts sentence
// embeddings, pooled as the checkpoint says.
#include <torch/version.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "hf_checkpoint.hpp"
#include "sluice/bundle.hpp"
#include "sluice/digest.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"

namespace {

const sluice::Param<std::string> kDirParam{"dir"};
const sluice::Param<std::string> kNameParam{"name"};
const sluice::MetricSpec kVersion{"version", sluice::Goal::kNone, "the registry version the model got"};
const sluice::MetricSpec kParameters{"parameters", sluice::Goal::kNone, "parameters of the network"};

using sluice::Status;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

Status WriteJson(const fs::path& path, const json& j) {
  std::ofstream out(path, std::ios::trunc);
  out << j.dump(2) << "\n";
  out.close();
  return out ? Status::Ok() : Status::IoError("cannot write " + path.string());
}

class HfImport final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    return sluice::Contract("hf-import", "0.1.0", sluice::Kind::kDeploy)
        .doc("Registers a Hugging Face BERT folder (config.json, vocab.txt, model.safetensors) as a text model")
        .param(kDirParam.Required().format(sluice::StringFormat::kDirectory).doc("the Hugging Face model folder"))
        .param(kNameParam.Required().format(sluice::StringFormat::kName).doc("the registry name"))
        .metric(kVersion)
        .metric(kParameters);
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    sluice::text::HfCheckpoint checkpoint;
    SLUICE_RETURN_IF_ERROR(sluice::text::ReadHfCheckpoint(kDirParam.Get(p), checkpoint));
    for (const std::string& note : checkpoint.notes) ctx.Info(note);
    const sluice::text::BertConfig& c = checkpoint.config;
    const bool head = c.num_labels > 0;

    const fs::path dir = fs::path(ctx.ScratchDir()) / "bundle";
    fs::create_directories(dir);
    sluice::SaveWeights(*checkpoint.network, (dir / sluice::bundle::kWeightsFile).string());
    SLUICE_RETURN_IF_ERROR(WriteJson(dir / sluice::bundle::kPreprocessingFile, checkpoint.preprocessing.ToJson()));
    json files = json::object();
    for (const char* file : {sluice::bundle::kWeightsFile, sluice::bundle::kPreprocessingFile}) {
      std::string digest;
      SLUICE_RETURN_IF_ERROR(sluice::Sha256File((dir / file).string(), digest));
      files[file] = digest;
    }
    const json params = sluice::text::TransformerParams(c);
    sluice::RunInfoV1& run = ctx.RequireService<sluice::RunInfoV1>();
    const std::string description = "imported from " + kDirParam.Get(p);
    const json manifest = {
        {"format", sluice::bundle::kFormatName},
        {"format_version", sluice::bundle::kFormatVersion},
        {"description", description},
        {"run_id", run.run_id()},
        {"trained_by_stage", ""},
        {"sluice", SLUICE_SDK_VERSION},
        {"toolchain", SLUICE_TOOLCHAIN_KEY},
        {"libtorch", TORCH_VERSION},
        {"task", head ? "classification" : "embedding"},
        {"target", ""},
        {"class_names", checkpoint.labels},
        {"target_shift", 0.0},
        {"target_scale", 1.0},
        {"schema",
         {{"sample_shape", {checkpoint.preprocessing.max_length}},
          {"categorical_cardinality", {c.vocab_size}},
          {"categorical_names", {sluice::kTokensColumn}},
          {"num_outputs", head ? c.num_labels : c.hidden_size}}},
        {"model", {{"plugin", "transformer"}, {"plugin_version", "0.1.0"}, {"params", params}}},
        {"input", "text"},
        {"files", files},
        {"metrics", json::object()},
        {"source", {{"format", "huggingface"}, {"dir", fs::absolute(kDirParam.Get(p)).string()}}},
    };
    SLUICE_RETURN_IF_ERROR(WriteJson(dir / sluice::bundle::kManifestFile, manifest));
    int64_t version = 0;
    std::string registered;
    SLUICE_RETURN_IF_ERROR(ctx.RequireService<sluice::ModelRegistryV1>().Register(
        sluice::ModelRegistration{kNameParam.Get(p), dir.string(), description}, version, registered));
    int64_t count = 0;
    for (const auto& t : checkpoint.network->parameters()) count += t.numel();
    ctx.Log(kVersion, 0, static_cast<double>(version));
    ctx.Log(kParameters, 0, static_cast<double>(count));
    ctx.Info("registered " + kNameParam.Get(p) + " v" + std::to_string(version) + ": BERT " +
             std::to_string(c.num_hidden_layers) + "x" + std::to_string(c.hidden_size) + ", " +
             (head ? std::to_string(c.num_labels) + "-class head" : c.pooling + "-pooled embeddings") + " (" +
             registered + ")");
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(HfImport)
