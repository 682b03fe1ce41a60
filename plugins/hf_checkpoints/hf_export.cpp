// hf-export: writes a registered text model as a Hugging Face folder that `transformers`
// opens (what `sluice models export NAME --format hf --output DIR` runs).
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "hf_checkpoint.hpp"
#include "sluice/bundle.hpp"
#include "sluice/excerpt.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"

namespace {

const sluice::Param<std::string> kBundleParam{"bundle"};
const sluice::Param<std::string> kOutputParam{"output"};

using sluice::Status;
namespace fs = std::filesystem;
using json = nlohmann::json;

class HfExport final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    return sluice::Contract("hf-export", "0.1.0", sluice::Kind::kDeploy)
        .doc("Writes a text model's bundle as a Hugging Face BERT folder")
        .param(kBundleParam.Required().format(sluice::StringFormat::kDirectory).doc("the bundle folder"))
        .param(kOutputParam.Required().doc("the folder to write (created; must not exist or be empty)"));
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    const fs::path bundle(kBundleParam.Get(p));
    std::ifstream manifest_in(bundle / sluice::bundle::kManifestFile),
        pre_in(bundle / sluice::bundle::kPreprocessingFile);
    const json manifest = json::parse(manifest_in, nullptr, false), pre_json = json::parse(pre_in, nullptr, false);
    if (manifest.is_discarded() || pre_json.is_discarded())
      return Status::InvalidArgument(bundle.string() + ": not a bundle");
    if (manifest["model"].value("plugin", "") != "transformer") {
      return Status::InvalidArgument(bundle.string() + ": a " + manifest["model"].value("plugin", "?") +
                                     " model; --format hf exports transformer models");
    }
    sluice::text::TextPreprocessing pre;
    SLUICE_RETURN_IF_ERROR(sluice::text::TextPreprocessing::FromJson(pre_json, pre));
    // The architecture from the manifest (the transformer plugin's recorded parameters);
    // the network is built here, since a type made in another plugin's library cannot be
    // inspected across the boundary.
    sluice::text::BertConfig c;
    try {
      const json& s = manifest.at("schema");
      c = sluice::text::ConfigFromTransformerParams(manifest.at("model").at("params"),
                                                    s.at("categorical_cardinality").at(0).get<int64_t>(),
                                                    s.at("num_outputs").get<int64_t>());
    } catch (const json::exception& e) {
      return Status::InvalidArgument(bundle.string() + "/manifest.json: " + sluice::MessageExcerpt(e));
    }
    auto bert = std::make_shared<sluice::text::BertNetwork>(c);
    sluice::LoadWeights(*bert, (bundle / sluice::bundle::kWeightsFile).string());
    const fs::path out(kOutputParam.Get(p));
    std::error_code ec;
    if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && fs::is_empty(out, ec))) {
      return Status::InvalidArgument("--output " + out.string() + " exists and is not an empty folder");
    }
    SLUICE_RETURN_IF_ERROR(sluice::text::WriteHfCheckpoint(out.string(), *bert, pre));
    ctx.Info("wrote " + out.string() + " (config.json, vocab.txt, tokenizer_config.json, model.safetensors)");
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(HfExport)
