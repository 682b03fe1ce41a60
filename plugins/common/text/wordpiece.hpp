// BERT's tokenizer: the basic tokenizer (clean control characters, split CJK characters,
// lower-case and strip accents when the vocabulary is uncased, split on whitespace and
// punctuation), then greedy longest-match WordPiece with "##" continuations, as Hugging
// Face's BertTokenizer does it. Unicode categories, case mapping and NFD come from ICU.
// No LibTorch.
#ifndef SLUICE_PLUGINS_COMMON_TEXT_WORDPIECE_HPP_
#define SLUICE_PLUGINS_COMMON_TEXT_WORDPIECE_HPP_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/status.hpp"

namespace sluice::text {

struct WordPieceOptions {
  bool lowercase = true;             // lower-case (uncased vocabularies)
  bool strip_accents = true;         // NFD, then drop non-spacing marks (BERT: when lower-casing)
  bool split_cjk = true;             // a space around every CJK ideograph
  int64_t max_chars_per_word = 100;  // longer words become [UNK]
  std::string unk = "[UNK]", cls = "[CLS]", sep = "[SEP]", pad = "[PAD]", mask = "[MASK]";
};

// The basic tokenizer's words, as UTF-8.
std::vector<std::string> BasicTokenize(std::string_view text, const WordPieceOptions& options);

// What turns texts into token ids for a text model: BERT's WordPiece, or a SentencePiece
// model. Travels as JSON in the "text" preprocessing (its "type" says which).
class Tokenizer {
 public:
  virtual ~Tokenizer();
  // The pieces of `text` (no special tokens).
  virtual std::vector<std::string> Tokenize(std::string_view text) const = 0;
  // [CLS] ids [SEP], truncated to at most `max_length` ids keeping [CLS] and [SEP].
  // Appends to `ids` and returns how many it appended.
  virtual int64_t Encode(std::string_view text, int64_t max_length, std::vector<int64_t>& ids) const = 0;
  virtual nlohmann::json ToJson() const = 0;
  virtual int64_t size() const = 0;
  virtual int64_t unk_id() const = 0;
  virtual int64_t cls_id() const = 0;
  virtual int64_t sep_id() const = 0;
  virtual int64_t mask_id() const = 0;

  // By the JSON's "type": "wordpiece" or "sentencepiece".
  static Status FromJson(const nlohmann::json& j, std::shared_ptr<const Tokenizer>& out);
};

class WordPiece final : public Tokenizer {
 public:
  // From a vocabulary, one token per entry (vocab.txt: one per line, id = line number).
  // Fails when a special token is missing or [PAD] is not id 0 (Sluice's text data pads
  // with 0).
  static Status FromVocab(std::vector<std::string> vocab, const WordPieceOptions& options, WordPiece& out);
  static Status FromVocabFile(const std::string& path, const WordPieceOptions& options, WordPiece& out);
  // {"type": "wordpiece", "lowercase", "strip_accents", "split_cjk", special tokens,
  // "vocab": [...]}: what travels with a model in its preprocessing.
  nlohmann::json ToJson() const override;
  static Status FromJson(const nlohmann::json& j, WordPiece& out);

  // Wordpieces of `text` (no special tokens).
  std::vector<std::string> Tokenize(std::string_view text) const override;
  // [CLS] ids [SEP], truncated to at most `max_length` ids keeping [CLS] and [SEP].
  // Appends to `ids` and returns how many it appended.
  int64_t Encode(std::string_view text, int64_t max_length, std::vector<int64_t>& ids) const override;

  const std::vector<std::string>& vocab() const { return vocab_; }
  const WordPieceOptions& options() const { return options_; }
  int64_t size() const override { return static_cast<int64_t>(vocab_.size()); }
  int64_t unk_id() const override { return unk_id_; }
  int64_t cls_id() const override { return cls_id_; }
  int64_t sep_id() const override { return sep_id_; }
  int64_t mask_id() const override { return mask_id_; }
  int64_t Id(const std::string& token) const;  // -1 when absent

 private:
  // Appends the ids of `text`'s wordpieces, at most `limit`.
  void Ids(std::string_view text, size_t limit, std::vector<int64_t>& ids) const;
  // Appends the ids of one basic token's wordpieces ([UNK] when it cannot be split).
  void Pieces(const std::string& word, std::vector<int64_t>& ids) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> ids_;
  WordPieceOptions options_;
  int64_t unk_id_ = 0, cls_id_ = 0, sep_id_ = 0, mask_id_ = 0;
};

// A Hugging Face tokenizer folder (vocab.txt; tokenizer_config.json when present gives
// do_lower_case, strip_accents, tokenize_chinese_chars and the special tokens) or a bare
// vocab.txt (uncased). Refuses a tokenizer_config.json naming a tokenizer class other
// than BERT's.
Status LoadHuggingFaceTokenizer(const std::string& path, WordPiece& out);

// Trains a WordPiece vocabulary of at most `vocab_size` tokens on `texts`, as Hugging
// Face's WordPieceTrainer does: the basic tokenizer's words, their characters (with "##"
// inside a word) as the first pieces, then the most frequent adjacent pair merged, again
// and again; the special tokens first, [PAD] at id 0.
Status TrainWordPiece(const std::vector<std::string>& texts, int64_t vocab_size, const WordPieceOptions& options,
                      WordPiece& out);

}  // namespace sluice::text

#endif  // SLUICE_PLUGINS_COMMON_TEXT_WORDPIECE_HPP_
