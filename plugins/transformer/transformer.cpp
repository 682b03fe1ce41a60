// transformer: a BERT-architecture encoder for text, with Hugging Face's parameter names,
// and a classification head (or, with head = "none", sentence embeddings). Sized by
// parameters named as in Hugging Face's BertConfig; started from a Hugging Face folder
// (checkpoint), a registered model or run (init_from), or from scratch.
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bert.hpp"
#include "hf_checkpoint.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"

namespace {

const sluice::Out<sluice::ModelSpec> kModelOut{"model", "the architecture, built once the vocabulary is known"};

// Parameters, declared once for Describe() and Run(). The sizes default to BERT-base's;
// starting from weights of another size is an error that says what to set.
const sluice::Param<int64_t> kHiddenSize{"hidden_size"};
const sluice::Param<int64_t> kLayers{"num_hidden_layers"};
const sluice::Param<int64_t> kHeads{"num_attention_heads"};
const sluice::Param<int64_t> kIntermediate{"intermediate_size"};
const sluice::Param<int64_t> kMaxPositions{"max_position_embeddings"};
const sluice::Param<int64_t> kTypeVocab{"type_vocab_size"};
const sluice::Param<double> kDropout{"hidden_dropout_prob"};
const sluice::Param<double> kAttentionDropout{"attention_probs_dropout_prob"};
const sluice::Param<double> kLayerNormEps{"layer_norm_eps"};
const sluice::Param<std::string> kHead{"head"};
const sluice::Param<std::string> kPooling{"pooling"};
const sluice::Param<bool> kNormalize{"normalize"};
const sluice::Param<std::string> kCheckpoint{"checkpoint"};

using sluice::Status;
using sluice::text::BertConfig;
namespace fs = std::filesystem;
using json = nlohmann::json;

class TransformerSpec final : public sluice::ModelSpec {
 public:
  explicit TransformerSpec(BertConfig config) : config_(std::move(config)) {}

  std::shared_ptr<sluice::Network> Build(const sluice::InputSchema& schema) const override {
    return std::make_shared<sluice::text::BertNetwork>(Configure(schema));
  }

  std::string Describe(const sluice::InputSchema& schema) const override {
    const BertConfig c = Configure(schema);
    std::string text = "bert " + std::to_string(c.num_hidden_layers) + "x" + std::to_string(c.hidden_size) + " (" +
                       std::to_string(c.num_attention_heads) + " heads, ffn " + std::to_string(c.intermediate_size) +
                       ", vocab " + std::to_string(c.vocab_size) + ")";
    return text + (c.num_labels > 0 ? " -" + std::to_string(c.num_labels) : " -> " + c.pooling + " embedding");
  }

 private:
  BertConfig Configure(const sluice::InputSchema& schema) const {
    if (!sluice::IsText(schema)) {
      throw sluice::StageError("transformer takes text data (token ids, e.g. from the text plugin); this data has " +
                               std::to_string(schema.sample_shape.size()) + "-d dense samples");
    }
    BertConfig c = config_;
    c.vocab_size = schema.categorical_cardinality[0];
    if (expected_vocab_ > 0 && expected_vocab_ != c.vocab_size) {
      throw sluice::StageError("the data's tokenizer has " + std::to_string(c.vocab_size) + " tokens, the weights of " +
                               init_from + " embed " + std::to_string(expected_vocab_) +
                               ": tokenize with the same vocabulary (text: tokenizer or vocab)");
    }
    if (schema.sample_shape[0] > c.max_position_embeddings) {
      throw sluice::StageError("the data's max_length " + std::to_string(schema.sample_shape[0]) +
                               " exceeds max_position_embeddings " + std::to_string(c.max_position_embeddings));
    }
    c.num_labels = c.num_labels < 0 ? 0 : schema.num_outputs;
    return c;
  }

 public:
  BertConfig config_;
  int64_t expected_vocab_ = 0;  // the vocabulary the initial weights embed
};

// A size: the parameter when given, else the starting model's, else `fallback`.
// A size parameter; the weights started from must agree, so that
// the recorded parameters alone rebuild the network (a bundle does so at prediction).
int64_t Size(const sluice::Params& p, const sluice::Param<int64_t>& param, const json& from) {
  const std::string name = param.name();
  const int64_t value = param.Get(p);
  if (from.contains(name) && from.at(name).get<int64_t>() != value) {
    throw sluice::StageError(name + " = " + std::to_string(value) + " differs from the " +
                             std::to_string(from.at(name).get<int64_t>()) + " of the weights it starts from: set " +
                             name + " = " + std::to_string(from.at(name).get<int64_t>()));
  }
  return value;
}

class Transformer final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    sluice::Contract c =
        sluice::Contract("transformer", "0.1.0", sluice::Kind::kModel)
            .doc(
                "BERT-architecture encoder for text (Hugging Face names) with a classification head, from a "
                "Hugging Face checkpoint, a registered model, or scratch")
            .output(kModelOut)
            .param(kHiddenSize.Default(768).range(8, 8192).doc("width"))
            .param(kLayers.Default(12).range(1, 96).doc("encoder layers"))
            .param(kHeads.Default(12).range(1, 128).doc("attention heads"))
            .param(kIntermediate.Default(3072).range(8, 65536).doc("feed-forward width"))
            .param(kMaxPositions.Default(512).range(8, 8192).doc("position embeddings: the longest input"))
            .param(kTypeVocab.Default(2).range(1, 16).doc("segment types"))
            .param(kDropout.Default(0.1).min(0).less_than(1).doc("dropout of hidden states"))
            .param(kAttentionDropout.Default(0.1).min(0).less_than(1).doc("dropout of attention probabilities"))
            .param(kLayerNormEps.Default(1e-12).greater_than(0).max(1).doc("LayerNorm epsilon"))
            .param(kHead.Default("classification")
                       .choices({"classification", "none"})
                       .doc("a classification head over the pooled [CLS] state, or none (sentence embeddings)"))
            .param(kPooling.Default("cls")
                       .choices({"cls", "mean"})
                       .doc("without a head: the [CLS] state or the mean over tokens"))
            .param(kNormalize.Default(false).doc("without a head: unit-length embeddings"))
            .param(kCheckpoint.Required()
                       .optional()
                       .format(sluice::StringFormat::kDirectory)
                       .doc("start from a Hugging Face BERT folder (config.json, model.safetensors, vocab.txt)"));
    return sluice::AddInitParams(c);
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    json from = json::object();  // the starting weights' sizes
    auto spec = std::make_shared<TransformerSpec>(BertConfig());
    const bool none = p.Has("init_from") && p.String("init_from") == "none";
    if (kCheckpoint.Has(p) && p.Has("init_from") && !none) {
      return Status::InvalidArgument("give checkpoint or init_from, not both");
    }
    if (kCheckpoint.Has(p)) {
      sluice::text::HfCheckpoint checkpoint;
      SLUICE_RETURN_IF_ERROR(sluice::text::ReadHfCheckpoint(kCheckpoint.Get(p), checkpoint));
      for (const std::string& note : checkpoint.notes) ctx.Info(note);
      const BertConfig& c = checkpoint.config;
      from = sluice::text::TransformerParams(c);
      const std::string weights = ctx.ScratchDir() + "/checkpoint.pt";
      sluice::SaveWeights(*checkpoint.network, weights);
      spec->init_weights = weights;
      spec->init_from = "checkpoint " + kCheckpoint.Get(p);
      spec->expected_vocab_ = c.vocab_size;
      spec->freeze = p.StringList("freeze");
      if (std::abs(kLayerNormEps.Get(p) - c.layer_norm_eps) > 1e-15) {
        return Status::InvalidArgument("layer_norm_eps differs from the checkpoint's " +
                                       std::to_string(c.layer_norm_eps) + ": set layer_norm_eps to it");
      }
    } else if (p.Has("init_from") && !none) {
      // Resolved once (a registered model's files are hashed on the way): the weights for
      // the trainer, as ReadInitParams would set them, and the bundle for the sizes.
      sluice::ModelReference ref;
      if (Status s = ctx.RequireService<sluice::ModelRegistryV1>().Resolve(p.String("init_from"), ref); !s.ok()) {
        return Status::InvalidArgument("init_from: " + s.message());
      }
      spec->init_weights = ref.weights;
      spec->init_from = ref.description;
      spec->freeze = p.StringList("freeze");
      if (!ref.bundle.empty()) {
        std::ifstream in(fs::path(ref.bundle) / "manifest.json");
        const json manifest = json::parse(in, nullptr, false);
        if (manifest.is_discarded() || manifest["model"].value("plugin", "") != "transformer") {
          return Status::InvalidArgument("init_from: " + ref.description + " is not a transformer model");
        }
        from = manifest["model"]["params"];
        const auto schema = manifest["schema"];
        if (schema.contains("categorical_cardinality") && schema["categorical_cardinality"].size() == 1) {
          spec->expected_vocab_ = schema["categorical_cardinality"][0].get<int64_t>();
        }
      }
    } else if (!p.StringList("freeze").empty()) {
      return Status::InvalidArgument("freeze needs checkpoint or init_from: there are no trained weights to keep");
    }
    BertConfig& c = spec->config_;
    c.hidden_size = Size(p, kHiddenSize, from);
    c.num_hidden_layers = Size(p, kLayers, from);
    c.num_attention_heads = Size(p, kHeads, from);
    c.intermediate_size = Size(p, kIntermediate, from);
    c.max_position_embeddings = Size(p, kMaxPositions, from);
    c.type_vocab_size = Size(p, kTypeVocab, from);
    c.hidden_dropout_prob = kDropout.Get(p);
    c.attention_probs_dropout_prob = kAttentionDropout.Get(p);
    c.layer_norm_eps = kLayerNormEps.Get(p);
    c.num_labels = kHead.Get(p) == "none" ? -1 : 0;  // -1: no head; 0: as many as the data's classes
    c.pooling = kPooling.Get(p);
    c.normalize = kNormalize.Get(p);
    sluice::text::CheckConfig(c);
    kModelOut.Set(ctx, std::move(spec));
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(Transformer)
