// Texts to the token-id tensors of text data (sluice/torch.hpp, "Text"), and the "text"
// preprocessing that lets a model do the same to new texts.
#ifndef SLUICE_PLUGINS_COMMON_TEXT_TEXT_ENCODING_HPP_
#define SLUICE_PLUGINS_COMMON_TEXT_TEXT_ENCODING_HPP_

#include <torch/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/status.hpp"
#include "wordpiece.hpp"

namespace sluice::text {

// [N, max_length] int64: [CLS] ids [SEP] then 0s, each text truncated to fit. Counts the
// texts that were truncated and the tokens kept.
torch::Tensor EncodeTexts(const Tokenizer& tokenizer, const std::vector<std::string>& texts, int64_t max_length,
                          int64_t* truncated = nullptr, int64_t* tokens = nullptr);

// The "text" preprocessing (sdk/GUIDE.md, "Preprocessing").
struct TextPreprocessing {
  std::string text_column = "text";
  std::string target;                   // the label column ("" for an encoder)
  std::string task = "classification";  // classification | embedding
  std::vector<std::string> class_names;
  int64_t max_length = 128;
  std::shared_ptr<const Tokenizer> tokenizer;  // never null once read or made

  nlohmann::json ToJson() const;
  static Status FromJson(const nlohmann::json& j, TextPreprocessing& out);
};

}  // namespace sluice::text

#endif  // SLUICE_PLUGINS_COMMON_TEXT_TEXT_ENCODING_HPP_
