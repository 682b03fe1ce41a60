// SentencePiece tokenizers (unigram or BPE), trained and applied by Debian's
// libsentencepiece (through libsluice_sentencepiece, loaded on first use: see
// sentencepiece_shim.cpp); the model travels base64-encoded in the tokenizer's JSON. Its special
// pieces are Sluice's: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4.
#ifndef SLUICE_PLUGINS_COMMON_TEXT_SENTENCEPIECE_HPP_
#define SLUICE_PLUGINS_COMMON_TEXT_SENTENCEPIECE_HPP_

#include <memory>
#include <string>
#include <vector>

#include "wordpiece.hpp"

namespace sluice::text {

class SentencePiece final : public Tokenizer {
 public:
  ~SentencePiece() override;
  // `type` "unigram" or "bpe"; `lowercase` folds case (NFKC with case folding).
  static Status Train(const std::vector<std::string>& texts, int64_t vocab_size, const std::string& type,
                      bool lowercase, std::shared_ptr<const SentencePiece>& out);
  // {"type": "sentencepiece", "model_type", "lowercase", "model": base64 of the model}.
  static Status FromJson(const nlohmann::json& j, std::shared_ptr<const SentencePiece>& out);
  nlohmann::json ToJson() const override;

  std::vector<std::string> Tokenize(std::string_view text) const override;
  int64_t Encode(std::string_view text, int64_t max_length, std::vector<int64_t>& ids) const override;
  int64_t size() const override;
  int64_t unk_id() const override { return 1; }
  int64_t cls_id() const override { return 2; }
  int64_t sep_id() const override { return 3; }
  int64_t mask_id() const override { return 4; }

 private:
  SentencePiece();
  Status Load();               // model_ into processor_
  void* processor_ = nullptr;  // a SentencePieceProcessor, in libsluice_sentencepiece
  std::string model_, model_type_;
  bool lowercase_ = true;
};

}  // namespace sluice::text

#endif  // SLUICE_PLUGINS_COMMON_TEXT_SENTENCEPIECE_HPP_
