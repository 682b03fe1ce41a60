// hf-export: writes a registered text model as a Hugging Face folder that `transformers`
// opens (what `sluice models export NAME --format hf --output DIR` runs).
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "hf_checkpoint.hpp"
#include "sluice/bundle.hpp"
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
      const json& params = manifest.at("model").at("params");
      const json& s = manifest.at("schema");
      c.vocab_size = s.at("categorical_cardinality").at(0).get<int64_t>();
      c.hidden_size = params.at("hidden_size").get<int64_t>();
      c.num_hidden_layers = params.at("num_hidden_layers").get<int64_t>();
      c.num_attention_heads = params.at("num_attention_heads").get<int64_t>();
      c.intermediate_size = params.at("intermediate_size").get<int64_t>();
      c.max_position_embeddings = params.at("max_position_embeddings").get<int64_t>();
      c.type_vocab_size = params.at("type_vocab_size").get<int64_t>();
      c.hidden_dropout_prob = params.value("hidden_dropout_prob", 0.1);
      c.attention_probs_dropout_prob = params.value("attention_probs_dropout_prob", 0.1);
      c.layer_norm_eps = params.value("layer_norm_eps", 1e-12);
      const bool head = params.value("head", "classification") == "classification";
      c.num_labels = head ? s.at("num_outputs").get<int64_t>() : 0;
      c.pooling = params.value("pooling", "cls");
      c.normalize = params.value("normalize", false);
    } catch (const json::exception& e) {
      return Status::InvalidArgument(bundle.string() + "/manifest.json: " + e.what());
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
