// BERT's tokenizer against Hugging Face's, on the all-MiniLM-L6-v2 vocabulary: goldens made
// by testdata/make_wordpiece_goldens.py (tokenizers and transformers agree on each case).
// Training vocabularies: WordPiece (ours) and SentencePiece (libsentencepiece).
#include "wordpiece.hpp"

#include <gtest/gtest.h>

#include "sentencepiece.hpp"

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

// A vocabulary file that is not UTF-8 (a damaged download) is refused where it is damaged,
// not when the tokenizer is later recorded as JSON.
TEST(WordPieceTest, AVocabularyFileThatIsNotUtf8IsRefusedAtItsLine) {
  const std::string path = ::testing::TempDir() + "/wordpiece_not_utf8_vocab.txt";
  std::ofstream(path, std::ios::binary) << "[PAD]\n[UNK]\nab\x99"
                                           "cd\n[CLS]\n[SEP]\n[MASK]\n";
  WordPiece w;
  const Status s = WordPiece::FromVocabFile(path, WordPieceOptions(), w);
  EXPECT_EQ(s.message(), path + ":3: byte 3 of the token is not UTF-8 (0x99); a BERT vocabulary is UTF-8 text, " +
                             "one token a line");
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

std::vector<std::string> Corpus() {
  std::vector<std::string> texts;
  const char* lines[] = {"Wheat exports rose sharply, the grain board said.",
                         "Corn and wheat prices fell; grain traders expected lower exports.",
                         "The Soviet Union bought U.S. wheat and corn under the export program.",
                         "Sorghum, barley and oats: grain stocks were higher than expected."};
  for (int i = 0; i < 30; ++i) texts.push_back(lines[i % 4]);
  return texts;
}

TEST(TrainWordPieceTest, LearnsFrequentWordsWholeWithSpecialTokensFirstAndRepeatsItself) {
  WordPieceOptions o;
  WordPiece w, again;
  ASSERT_TRUE(TrainWordPiece(Corpus(), 120, o, w).ok());
  ASSERT_TRUE(TrainWordPiece(Corpus(), 120, o, again).ok());
  EXPECT_EQ(w.vocab(), again.vocab()) << "training is deterministic";
  EXPECT_LE(w.size(), 120);
  EXPECT_EQ(std::vector<std::string>(w.vocab().begin(), w.vocab().begin() + 5),
            (std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}));
  EXPECT_EQ(w.Tokenize("Wheat grain exports"), (std::vector<std::string>{"wheat", "grain", "exports"}));
  // An unseen word is spelled out from learnt pieces, not [UNK].
  const auto pieces = w.Tokenize("wheats");
  EXPECT_EQ(pieces.front(), "wheat");
  EXPECT_EQ(pieces.back(), "##s");
}

TEST(SentencePieceTest, TrainsUnigramAndBpeWithSluicesSpecialPiecesAndTravelsAsJson) {
  for (const char* type : {"unigram", "bpe"}) {
    std::shared_ptr<const SentencePiece> sp, again;
    const Status s = SentencePiece::Train(Corpus(), 90, type, true, sp);
    ASSERT_TRUE(s.ok()) << type << ": " << s.message();
    ASSERT_TRUE(SentencePiece::Train(Corpus(), 90, type, true, again).ok());
    EXPECT_EQ(sp->ToJson(), again->ToJson()) << type << ": training is deterministic";
    std::vector<int64_t> ids;
    EXPECT_GT(sp->Encode("WHEAT exports", 64, ids), 2);
    EXPECT_EQ(ids.front(), sp->cls_id());
    EXPECT_EQ(ids.back(), sp->sep_id());
    for (int64_t id : ids) EXPECT_NE(id, 0) << "[PAD] is never a piece of text";
    std::vector<int64_t> cased;
    sp->Encode("wheat exports", 64, cased);
    EXPECT_EQ(ids, cased) << type << ": lowercase folds case";
    std::shared_ptr<const Tokenizer> back;
    ASSERT_TRUE(Tokenizer::FromJson(sp->ToJson(), back).ok());
    std::vector<int64_t> ids_back;
    back->Encode("WHEAT exports", 64, ids_back);
    EXPECT_EQ(ids_back, ids);
    EXPECT_EQ(back->mask_id(), 4);
    ids.clear();
    EXPECT_EQ(sp->Encode("wheat corn grain exports wheat corn grain exports", 5, ids), 5) << "truncated";
  }
}

}  // namespace
}  // namespace sluice::text
