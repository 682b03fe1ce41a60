#include "wordpiece.hpp"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "sluice/excerpt.hpp"

namespace sluice::text {
namespace {

// UTF-8 to code points; an invalid byte becomes U+FFFD (which cleaning drops).
void Decode(std::string_view s, std::u32string& out) {
  out.clear();
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    char32_t c = 0xFFFD;
    size_t n = 1;
    if (b < 0x80) {
      c = b;
    } else if ((b >> 5) == 6 || (b >> 4) == 14 || (b >> 3) == 30) {
      n = (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : 4;
      if (i + n <= s.size()) {
        c = b & (0x7F >> n);
        for (size_t k = 1; k < n; ++k) {
          const auto cont = static_cast<unsigned char>(s[i + k]);
          if ((cont >> 6) != 2) {
            c = 0xFFFD;
            n = k;
            break;
          }
          c = (c << 6) | (cont & 0x3F);
        }
      } else {
        n = s.size() - i;
      }
    }
    out.push_back(c);
    i += n;
  }
}

void Append(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool IsControl(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  if (c < 0x80) return c < 0x20 || c == 0x7F;
  const int8_t t = u_charType(static_cast<UChar32>(c));
  return t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_UNASSIGNED || t == U_PRIVATE_USE_CHAR || t == U_SURROGATE;
}

bool IsWhitespace(char32_t c) {
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return true;
  if (c < 0x80) return false;
  return u_charType(static_cast<UChar32>(c)) == U_SPACE_SEPARATOR || u_isUWhiteSpace(static_cast<UChar32>(c));
}

bool IsPunctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  if (c < 0x80) return false;
  switch (u_charType(static_cast<UChar32>(c))) {
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_CONNECTOR_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
      return true;
    default:
      return false;
  }
}

// The CJK Unified Ideographs blocks BERT splits (not Hangul, Hiragana or Katakana).
bool IsCjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Lower-cases and strips accents of one word, as the options say.
void Normalize(std::u32string& word, const WordPieceOptions& o) {
  if (!o.lowercase && !o.strip_accents) return;
  bool ascii = true;
  for (char32_t c : word) ascii = ascii && c < 0x80;
  if (ascii) {
    if (o.lowercase) {
      for (char32_t& c : word) {
        if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
      }
    }
    return;
  }
  icu::UnicodeString u =
      icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(word.data()), static_cast<int32_t>(word.size()));
  if (o.lowercase) u.toLower(icu::Locale::getRoot());
  if (o.strip_accents) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
    if (U_SUCCESS(status)) u = nfd->normalize(u, status);
  }
  word.clear();
  for (int32_t i = 0; i < u.length(); i = u.moveIndex32(i, 1)) {
    const UChar32 c = u.char32At(i);
    if (o.strip_accents && u_charType(c) == U_NON_SPACING_MARK) continue;
    word.push_back(static_cast<char32_t>(c));
  }
}

}  // namespace

std::vector<std::string> BasicTokenize(std::string_view text, const WordPieceOptions& options) {
  std::u32string chars;
  Decode(text, chars);
  // Clean: drop NUL, U+FFFD and control characters; whitespace becomes a space; CJK
  // ideographs become words of their own.
  std::u32string clean;
  clean.reserve(chars.size());
  for (char32_t c : chars) {
    if (c == 0 || c == 0xFFFD || IsControl(c)) continue;
    if (IsWhitespace(c)) {
      clean.push_back(' ');
    } else if (options.split_cjk && IsCjk(c)) {
      clean.push_back(' ');
      clean.push_back(c);
      clean.push_back(' ');
    } else {
      clean.push_back(c);
    }
  }
  std::vector<std::string> words;
  std::u32string word;
  std::string piece;
  auto flush = [&](std::u32string& w) {
    if (w.empty()) return;
    Normalize(w, options);
    // Every punctuation character is a word of its own.
    piece.clear();
    for (char32_t c : w) {
      if (IsPunctuation(c)) {
        if (!piece.empty()) words.push_back(piece);
        piece.clear();
        Append(c, piece);
        words.push_back(piece);
        piece.clear();
      } else {
        Append(c, piece);
      }
    }
    if (!piece.empty()) words.push_back(piece);
    w.clear();
  };
  for (char32_t c : clean) {
    if (c == ' ') {
      flush(word);
    } else {
      word.push_back(c);
    }
  }
  flush(word);
  return words;
}

Status WordPiece::FromVocab(std::vector<std::string> vocab, const WordPieceOptions& options, WordPiece& out) {
  WordPiece w;
  w.options_ = options;
  w.vocab_ = std::move(vocab);
  w.ids_.reserve(w.vocab_.size());
  for (size_t i = 0; i < w.vocab_.size(); ++i) w.ids_.emplace(w.vocab_[i], static_cast<int64_t>(i));
  std::string missing;
  for (const std::string* token : {&options.unk, &options.cls, &options.sep, &options.pad, &options.mask}) {
    if (!w.ids_.count(*token)) missing += (missing.empty() ? "" : ", ") + *token;
  }
  if (!missing.empty()) return Status::InvalidArgument("the vocabulary lacks the special tokens " + missing);
  if (w.ids_.at(options.pad) != 0) {
    return Status::InvalidArgument("the vocabulary's padding token " + options.pad + " is id " +
                                   std::to_string(w.ids_.at(options.pad)) + "; Sluice needs it at id 0");
  }
  w.unk_id_ = w.ids_.at(options.unk);
  w.cls_id_ = w.ids_.at(options.cls);
  w.sep_id_ = w.ids_.at(options.sep);
  w.mask_id_ = w.ids_.at(options.mask);
  out = std::move(w);
  return Status::Ok();
}

Status WordPiece::FromVocabFile(const std::string& path, const WordPieceOptions& options, WordPiece& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open the vocabulary");
  std::vector<std::string> vocab;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Tokens are matched against UTF-8 text, and recorded in JSON with the model.
    if (const size_t bad = FirstInvalidUtf8(line); bad != std::string::npos) {
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(line[bad]));
      return Status::InvalidArgument(path + ":" + std::to_string(vocab.size() + 1) + ": byte " +
                                     std::to_string(bad + 1) + " of the token is not UTF-8 (" + byte +
                                     "); a BERT vocabulary is UTF-8 text, one token a line");
    }
    vocab.push_back(line);
  }
  if (in.bad()) return Status::IoError(path + ": read failed");
  if (vocab.empty()) return Status::InvalidArgument(path + ": the vocabulary is empty");
  Status s = FromVocab(std::move(vocab), options, out);
  return s.ok() ? s : Status::InvalidArgument(path + ": " + s.message());
}

nlohmann::json WordPiece::ToJson() const {
  return {{"type", "wordpiece"},
          {"lowercase", options_.lowercase},
          {"strip_accents", options_.strip_accents},
          {"split_cjk", options_.split_cjk},
          {"max_chars_per_word", options_.max_chars_per_word},
          {"unk_token", options_.unk},
          {"cls_token", options_.cls},
          {"sep_token", options_.sep},
          {"pad_token", options_.pad},
          {"mask_token", options_.mask},
          {"vocab", vocab_}};
}

Status WordPiece::FromJson(const nlohmann::json& j, WordPiece& out) {
  try {
    if (j.value("type", "") != "wordpiece") {
      return Status::InvalidArgument("the tokenizer is of type '" + Excerpt(j.value("type", "")) +
                                     "'; this sluice reads wordpiece");
    }
    WordPieceOptions o;
    o.lowercase = j.at("lowercase").get<bool>();
    o.strip_accents = j.at("strip_accents").get<bool>();
    o.split_cjk = j.value("split_cjk", true);
    o.max_chars_per_word = j.value("max_chars_per_word", int64_t{100});
    o.unk = j.value("unk_token", o.unk);
    o.cls = j.value("cls_token", o.cls);
    o.sep = j.value("sep_token", o.sep);
    o.pad = j.value("pad_token", o.pad);
    o.mask = j.value("mask_token", o.mask);
    return FromVocab(j.at("vocab").get<std::vector<std::string>>(), o, out);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("the tokenizer is malformed: ") + MessageExcerpt(e));
  }
}

int64_t WordPiece::Id(const std::string& token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

void WordPiece::Pieces(const std::string& word, std::vector<int64_t>& ids) const {
  // Code point boundaries, for longest-match by characters.
  std::vector<size_t> starts;
  for (size_t i = 0; i < word.size(); ++i) {
    if ((static_cast<unsigned char>(word[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  const auto chars = static_cast<int64_t>(starts.size());
  starts.push_back(word.size());
  if (chars > options_.max_chars_per_word) {
    ids.push_back(unk_id_);
    return;
  }
  const size_t mark = ids.size();
  std::string key;
  size_t start = 0;
  while (start < static_cast<size_t>(chars)) {
    size_t end = static_cast<size_t>(chars);
    int64_t found = -1;
    for (; end > start; --end) {
      key.assign(start > 0 ? "##" : "");
      key.append(word, starts[start], starts[end] - starts[start]);
      auto it = ids_.find(key);
      if (it != ids_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {
      ids.resize(mark);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(found);
    start = end;
  }
}

void WordPiece::Ids(std::string_view text, size_t limit, std::vector<int64_t>& ids) const {
  // Special tokens written in the text stay whole (as Hugging Face's added tokens do);
  // the text between them goes through the basic tokenizer.
  const size_t begin = ids.size();
  size_t from = 0;
  while (from <= text.size() && ids.size() - begin < limit) {
    size_t at = text.find('[', from), length = 0;
    int64_t special = -1;
    for (; at != std::string_view::npos; at = text.find('[', at + 1)) {
      for (const std::string* token : {&options_.cls, &options_.sep, &options_.mask, &options_.unk, &options_.pad}) {
        if (text.compare(at, token->size(), *token) == 0) {
          special = Id(*token);
          length = token->size();
          break;
        }
      }
      if (special >= 0) break;
    }
    const std::string_view plain = text.substr(from, at == std::string_view::npos ? std::string_view::npos : at - from);
    for (const std::string& word : BasicTokenize(plain, options_)) {
      Pieces(word, ids);
      if (ids.size() - begin >= limit) break;
    }
    if (special < 0) break;
    ids.push_back(special);
    from = at + length;
  }
  if (ids.size() - begin > limit) ids.resize(begin + limit);
}

std::vector<std::string> WordPiece::Tokenize(std::string_view text) const {
  std::vector<int64_t> ids;
  Ids(text, SIZE_MAX, ids);
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) tokens.push_back(vocab_[static_cast<size_t>(id)]);
  return tokens;
}

int64_t WordPiece::Encode(std::string_view text, int64_t max_length, std::vector<int64_t>& ids) const {
  const size_t begin = ids.size();
  ids.push_back(cls_id_);
  Ids(text, static_cast<size_t>(std::max<int64_t>(max_length, 2)) - 2, ids);  // room for [CLS] and [SEP]
  ids.push_back(sep_id_);
  return static_cast<int64_t>(ids.size() - begin);
}

Status LoadHuggingFaceTokenizer(const std::string& path, WordPiece& out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool folder = fs::is_directory(path, ec);
  const fs::path vocab = folder ? fs::path(path) / "vocab.txt" : fs::path(path);
  if (!fs::is_regular_file(vocab, ec)) {
    return Status::NotFound(vocab.string() + ": no vocabulary" +
                            (folder ? " (a BERT tokenizer folder has vocab.txt)" : ""));
  }
  WordPieceOptions o;
  const fs::path config =
      folder ? fs::path(path) / "tokenizer_config.json" : vocab.parent_path() / "tokenizer_config.json";
  if (fs::is_regular_file(config, ec)) {
    std::ifstream in(config);
    try {
      const nlohmann::json j = nlohmann::json::parse(in);
      const std::string cls = j.value("tokenizer_class", "BertTokenizer");
      if (cls.rfind("Bert", 0) != 0 && cls.rfind("DistilBert", 0) != 0) {
        return Status::InvalidArgument(config.string() + ": tokenizer_class " + Excerpt(cls) +
                                       " is not BERT's WordPiece; sluice reads BertTokenizer folders");
      }
      o.lowercase = j.value("do_lower_case", true);
      o.strip_accents =
          j.contains("strip_accents") && j["strip_accents"].is_boolean() ? j["strip_accents"].get<bool>() : o.lowercase;
      o.split_cjk = j.value("tokenize_chinese_chars", true);
      auto token = [&](const char* key, std::string& value) {
        if (j.contains(key) && j[key].is_string()) value = j[key].get<std::string>();
        if (j.contains(key) && j[key].is_object()) value = j[key].value("content", value);
      };
      token("unk_token", o.unk);
      token("cls_token", o.cls);
      token("sep_token", o.sep);
      token("pad_token", o.pad);
      token("mask_token", o.mask);
    } catch (const nlohmann::json::exception& e) {
      return Status::InvalidArgument(config.string() + ": " + MessageExcerpt(e));
    }
  }
  return WordPiece::FromVocabFile(vocab.string(), o, out);
}

}  // namespace sluice::text

namespace sluice::text {

Tokenizer::~Tokenizer() = default;

Status TrainWordPiece(const std::vector<std::string>& texts, int64_t vocab_size, const WordPieceOptions& options,
                      WordPiece& out) {
  // Words and their counts.
  std::unordered_map<std::string, int64_t> counts;
  for (const std::string& text : texts) {
    for (std::string& word : BasicTokenize(text, options)) ++counts[std::move(word)];
  }
  std::vector<std::pair<std::string, int64_t>> words(counts.begin(), counts.end());
  std::sort(words.begin(), words.end());  // deterministic whatever the hash order
  // Symbols: each word as a sequence of piece ids, characters first.
  std::vector<std::string> vocab = {options.pad, options.unk, options.cls, options.sep, options.mask};
  std::unordered_map<std::string, int32_t> ids;
  for (size_t i = 0; i < vocab.size(); ++i) ids[vocab[i]] = static_cast<int32_t>(i);
  auto id_of = [&](const std::string& piece) {
    auto [it, added] = ids.emplace(piece, static_cast<int32_t>(vocab.size()));
    if (added) vocab.push_back(piece);
    return it->second;
  };
  std::vector<std::vector<int32_t>> symbols(words.size());
  for (size_t w = 0; w < words.size(); ++w) {
    const std::string& word = words[w].first;
    for (size_t i = 0; i < word.size();) {
      size_t n = 1;
      while (i + n < word.size() && (static_cast<unsigned char>(word[i + n]) & 0xC0) == 0x80) ++n;
      symbols[w].push_back(id_of((i == 0 ? "" : "##") + word.substr(i, n)));
      i += n;
    }
  }
  // The text of a piece without its "##".
  auto bare = [&](int32_t id) -> std::string {
    const std::string& p = vocab[static_cast<size_t>(id)];
    return p.rfind("##", 0) == 0 ? p.substr(2) : p;
  };
  // Pair counts, and which words hold each pair.
  using Pair = std::pair<int32_t, int32_t>;
  std::map<Pair, int64_t> pairs;
  std::map<Pair, std::set<size_t>> where;
  auto add_word = [&](size_t w, int64_t sign) {
    const auto& s = symbols[w];
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const Pair pair{s[i], s[i + 1]};
      pairs[pair] += sign * words[w].second;
      if (sign > 0) where[pair].insert(w);
    }
  };
  for (size_t w = 0; w < words.size(); ++w) add_word(w, +1);
  while (static_cast<int64_t>(vocab.size()) < vocab_size) {
    // The most frequent pair; ties go to the smaller ids (deterministic).
    Pair best{-1, -1};
    int64_t best_count = 0;
    for (const auto& [pair, count] : pairs) {
      if (count > best_count) {
        best = pair;
        best_count = count;
      }
    }
    if (best_count <= 0) break;  // every word is one piece
    const std::string& first = vocab[static_cast<size_t>(best.first)];
    const int32_t merged = id_of((first.rfind("##", 0) == 0 ? "##" : "") + bare(best.first) + bare(best.second));
    const std::set<size_t> affected = where[best];
    for (size_t w : affected) {
      add_word(w, -1);
      auto& s = symbols[w];
      std::vector<int32_t> next;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == best.first && s[i + 1] == best.second) {
          next.push_back(merged);
          ++i;
        } else {
          next.push_back(s[i]);
        }
      }
      s = std::move(next);
      add_word(w, +1);
    }
    for (auto it = pairs.begin(); it != pairs.end();) it = it->second <= 0 ? pairs.erase(it) : std::next(it);
    where.erase(best);
  }
  return WordPiece::FromVocab(std::move(vocab), options, out);
}

}  // namespace sluice::text
