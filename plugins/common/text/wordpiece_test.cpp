// BERT's tokenizer against Hugging Face's, on the all-MiniLM-L6-v2 vocabulary: goldens made
// by testdata/make_wordpiece_goldens.py (tokenizers and transformers agree on each case).
#include "wordpiece.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "data_files.hpp"

namespace sluice::text {
namespace {

WordPiece Tiny(bool lowercase = true) {
  WordPieceOptions o;
  o.lowercase = o.strip_accents = lowercase;
  WordPiece w;
  const Status s = WordPiece::FromVocab(
      {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "grain", "wheat", ",", "!"}, o, w);
  EXPECT_TRUE(s.ok()) << s.message();
  return w;
}

TEST(WordPieceTest, SplitsWordsIntoTheLongestPiecesInTheVocabulary) {
  const WordPiece w = Tiny();
  EXPECT_EQ(w.Tokenize("Unaffable grain, WHEAT!"),
            (std::vector<std::string>{"un", "##aff", "##able", "grain", ",", "wheat", "!"}));
  // A word with a piece the vocabulary lacks is one [UNK], not a partial split.
  EXPECT_EQ(w.Tokenize("unaffx grain"), (std::vector<std::string>{"[UNK]", "grain"}));
  EXPECT_EQ(Tiny(false).Tokenize("Grain grain"), (std::vector<std::string>{"[UNK]", "grain"}));
}

TEST(WordPieceTest, EncodeAddsClsAndSepAndTruncatesBetweenThem) {
  const WordPiece w = Tiny();
  std::vector<int64_t> ids;
  EXPECT_EQ(w.Encode("grain wheat", 128, ids), 4);
  EXPECT_EQ(ids, (std::vector<int64_t>{2, 8, 9, 3}));
  ids.clear();
  EXPECT_EQ(w.Encode("unaffable grain wheat", 4, ids), 4);
  EXPECT_EQ(ids, (std::vector<int64_t>{2, 5, 6, 3})) << "truncated to 4 ids, keeping [CLS] and [SEP]";
  ids.clear();
  EXPECT_EQ(w.Encode("", 8, ids), 2);
  EXPECT_EQ(ids, (std::vector<int64_t>{2, 3}));
}

TEST(WordPieceTest, RefusesAVocabularyWithoutSpecialTokensOrWithPaddingElsewhere) {
  WordPiece w;
  Status s = WordPiece::FromVocab({"[PAD]", "a"}, WordPieceOptions(), w);
  EXPECT_EQ(s.message(), "the vocabulary lacks the special tokens [UNK], [CLS], [SEP], [MASK]");
  s = WordPiece::FromVocab({"[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]"}, WordPieceOptions(), w);
  EXPECT_EQ(s.message(), "the vocabulary's padding token [PAD] is id 1; Sluice needs it at id 0");
}

TEST(WordPieceTest, TravelsAsJsonUnchanged) {
  const WordPiece w = Tiny();
  WordPiece back;
  ASSERT_TRUE(WordPiece::FromJson(w.ToJson(), back).ok());
  EXPECT_EQ(back.vocab(), w.vocab());
  EXPECT_EQ(back.Tokenize("Unaffable!"), w.Tokenize("Unaffable!"));
  EXPECT_EQ(WordPiece::FromJson({{"type", "bpe"}}, back).message(),
            "the tokenizer is of type 'bpe'; this sluice reads wordpiece");
}

TEST(WordPieceTest, EqualsHuggingFacesTokenizerOnAccentsCjkPunctuationControlsAndLongWords) {
  std::ifstream in(SLUICE_WORDPIECE_GOLDEN);
  ASSERT_TRUE(in) << SLUICE_WORDPIECE_GOLDEN;
  const nlohmann::json golden = nlohmann::json::parse(in);
  const std::string vocab = testing::DataFile("models/all-MiniLM-L6-v2/vocab.txt");
  for (bool lowercase : {true, false}) {
    WordPieceOptions o;
    o.lowercase = o.strip_accents = lowercase;
    WordPiece w;
    const Status s = WordPiece::FromVocabFile(vocab, o, w);
    ASSERT_TRUE(s.ok()) << s.message();
    int checked = 0;
    for (const auto& c : golden.at("cases")) {
      if (c.at("lowercase").get<bool>() != lowercase) continue;
      const std::string text = c.at("text");
      EXPECT_EQ(w.Tokenize(text), c.at("tokens").get<std::vector<std::string>>())
          << "text: " << nlohmann::json(text).dump() << (lowercase ? " (uncased)" : " (cased)");
      ++checked;
    }
    EXPECT_GE(checked, 20);
  }
}

}  // namespace
}  // namespace sluice::text
