// Hugging Face BERT folders in and out: config.json, vocab.txt (+ tokenizer_config.json),
// model.safetensors, and for sentence-transformers models modules.json, 1_Pooling/config.json
// and sentence_bert_config.json.
#ifndef SLUICE_PLUGINS_COMMON_TEXT_HF_CHECKPOINT_HPP_
#define SLUICE_PLUGINS_COMMON_TEXT_HF_CHECKPOINT_HPP_

#include <string>
#include <vector>

#include "bert.hpp"
#include "sluice/status.hpp"
#include "text_encoding.hpp"

namespace sluice::text {

struct HfCheckpoint {
  BertConfig config;                     // num_labels > 0 with a sequence-classification head
  std::vector<std::string> labels;       // id2label, by id, with a head
  TextPreprocessing preprocessing;       // the tokenizer and maximum length
  std::shared_ptr<BertNetwork> network;  // the weights, in Sluice's (= BertForSequenceClassification's) names
  std::vector<std::string> notes;        // tensors left aside (position_ids, pre-training heads)
};

// The transformer plugin's parameters for `config` (Hugging Face's BertConfig names, and
// head, pooling, normalize): what a bundle records to rebuild the network.
nlohmann::json TransformerParams(const BertConfig& config);
// Back from those parameters, for a vocabulary and a head of `num_labels` outputs (used
// only when head = "classification"). Throws nlohmann::json::exception for a missing size.
BertConfig ConfigFromTransformerParams(const nlohmann::json& params, int64_t vocab_size, int64_t num_labels);

// Reads and checks a folder: a missing or truncated file, an architecture other than
// BERT, a tensor missing or shaped unlike config.json says are errors naming the file and
// the tensor. Tensor names may carry the "bert." prefix or not, and the older
// LayerNorm.gamma / .beta spelling; F32, F16 and BF16 are read.
Status ReadHfCheckpoint(const std::string& dir, HfCheckpoint& out);

// Writes `network` and its preprocessing as a folder `transformers` opens:
// BertForSequenceClassification with id2label when it has a head, BertModel (with
// sentence-transformers' pooling files) when it is an encoder.
Status WriteHfCheckpoint(const std::string& dir, BertNetwork& network, const TextPreprocessing& preprocessing);

}  // namespace sluice::text

#endif  // SLUICE_PLUGINS_COMMON_TEXT_HF_CHECKPOINT_HPP_
