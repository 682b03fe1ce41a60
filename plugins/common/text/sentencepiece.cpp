#include "sentencepiece.hpp"

#include <dlfcn.h>

#include <mutex>

#include "sluice/excerpt.hpp"

namespace sluice::text {
namespace {

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64(const std::string& in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int s : {18, 12, 6, 0}) out += kBase64[(v >> s) & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kBase64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool Unbase64(const std::string& in, std::string& out) {
  int table[256];
  std::fill(std::begin(table), std::end(table), -1);
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kBase64[i])] = i;
  uint32_t v = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const int d = table[static_cast<unsigned char>(c)];
    if (d < 0) return false;
    v = (v << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xFF);
    }
  }
  return true;
}

// libsluice_sentencepiece (sentencepiece_shim.cpp), loaded apart: see there why.
struct Shim {
  void (*free)(void*) = nullptr;
  int (*train)(const char* const*, size_t, const char* const*, const char* const*, size_t, char**, size_t*,
               char**) = nullptr;
  void* (*load)(const char*, size_t, char**) = nullptr;
  void (*unload)(void*) = nullptr;
  int (*size)(void*) = nullptr;
  int (*piece_id)(void*, const char*) = nullptr;
  int (*encode)(void*, const char*, size_t, int**, size_t*) = nullptr;
  int (*pieces)(void*, const char*, size_t, char**, size_t*) = nullptr;
  std::string error;
};

const Shim& GetShim() {
  static Shim shim;
  static std::once_flag once;
  std::call_once(once, [] {
    // Installed beside the SDK's libraries: found through where libsluice_sdk was loaded
    // from (a sanitizer's dlopen would not see the calling library's RUNPATH), else by name.
    void* handle = nullptr;
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&sluice::Excerpt), &info) != 0 && info.dli_fname) {
      const std::string sdk = info.dli_fname;
      const std::string dir = sdk.substr(0, sdk.find_last_of('/') + 1);
      handle = dlopen((dir + "libsluice_sentencepiece.so").c_str(), RTLD_NOW | RTLD_LOCAL);
    }
    if (!handle) handle = dlopen("libsluice_sentencepiece.so", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      shim.error = std::string("SentencePiece is unavailable: ") + dlerror() +
                   " (libsluice_sentencepiece.so is built with Sluice, beside its SDK libraries)";
      return;
    }
    auto bind = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
      if (!fn && shim.error.empty())
        shim.error = std::string("SentencePiece: no ") + name + " in libsluice_sentencepiece";
    };
    bind(shim.free, "sluice_spm_free");
    bind(shim.train, "sluice_spm_train");
    bind(shim.load, "sluice_spm_load");
    bind(shim.unload, "sluice_spm_unload");
    bind(shim.size, "sluice_spm_size");
    bind(shim.piece_id, "sluice_spm_piece_id");
    bind(shim.encode, "sluice_spm_encode");
    bind(shim.pieces, "sluice_spm_pieces");
  });
  return shim;
}

// Takes a malloc'ed message from the shim.
std::string Message(const Shim& shim, char* error) {
  std::string text = error ? error : "unknown error";
  if (error) shim.free(error);
  return text;
}

}  // namespace

SentencePiece::SentencePiece() = default;
SentencePiece::~SentencePiece() {
  if (processor_) GetShim().unload(processor_);
}

Status SentencePiece::Load() {
  const Shim& shim = GetShim();
  if (!shim.error.empty()) return Status::FailedPrecondition(shim.error);
  char* error = nullptr;
  processor_ = shim.load(model_.data(), model_.size(), &error);
  if (!processor_) return Status::InvalidArgument("the SentencePiece model does not load: " + Message(shim, error));
  return Status::Ok();
}

Status SentencePiece::Train(const std::vector<std::string>& texts, int64_t vocab_size, const std::string& type,
                            bool lowercase, std::shared_ptr<const SentencePiece>& out) {
  const Shim& shim = GetShim();
  if (!shim.error.empty()) return Status::FailedPrecondition(shim.error);
  const std::vector<std::pair<std::string, std::string>> args = {
      {"model_type", type},
      {"vocab_size", std::to_string(vocab_size)},
      {"normalization_rule_name", lowercase ? "nmt_nfkc_cf" : "nmt_nfkc"},
      {"pad_id", "0"},
      {"unk_id", "1"},
      {"bos_id", "2"},
      {"eos_id", "3"},
      {"pad_piece", "[PAD]"},
      {"unk_piece", "[UNK]"},
      {"bos_piece", "[CLS]"},
      {"eos_piece", "[SEP]"},
      {"user_defined_symbols", "[MASK]"},
      {"hard_vocab_limit", "false"},
      {"num_threads", "1"},
      {"minloglevel", "2"},
  };
  std::vector<const char*> text_ptrs, keys, values;
  for (const std::string& t : texts) text_ptrs.push_back(t.c_str());
  for (const auto& [k, v] : args) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  std::shared_ptr<SentencePiece> sp(new SentencePiece());
  char *model = nullptr, *error = nullptr;
  size_t size = 0;
  if (shim.train(text_ptrs.data(), text_ptrs.size(), keys.data(), values.data(), keys.size(), &model, &size, &error)) {
    return Status::InvalidArgument("training a SentencePiece " + type + " model: " + Message(shim, error));
  }
  sp->model_.assign(model, size);
  shim.free(model);
  SLUICE_RETURN_IF_ERROR(sp->Load());
  sp->model_type_ = type;
  sp->lowercase_ = lowercase;
  out = std::move(sp);
  return Status::Ok();
}

Status SentencePiece::FromJson(const nlohmann::json& j, std::shared_ptr<const SentencePiece>& out) {
  std::shared_ptr<SentencePiece> sp(new SentencePiece());
  try {
    if (!Unbase64(j.at("model").get<std::string>(), sp->model_)) {
      return Status::InvalidArgument("the SentencePiece model is not base64");
    }
    sp->model_type_ = j.value("model_type", "unigram");
    sp->lowercase_ = j.value("lowercase", true);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("the SentencePiece tokenizer is malformed: ") + MessageExcerpt(e));
  }
  SLUICE_RETURN_IF_ERROR(sp->Load());
  const Shim& shim = GetShim();
  if (shim.piece_id(sp->processor_, "[PAD]") != 0 || shim.piece_id(sp->processor_, "[MASK]") != 4) {
    return Status::InvalidArgument("the SentencePiece model lacks Sluice's special pieces ([PAD] 0 ... [MASK] 4)");
  }
  out = std::move(sp);
  return Status::Ok();
}

nlohmann::json SentencePiece::ToJson() const {
  return {{"type", "sentencepiece"}, {"model_type", model_type_}, {"lowercase", lowercase_}, {"model", Base64(model_)}};
}

std::vector<std::string> SentencePiece::Tokenize(std::string_view text) const {
  const Shim& shim = GetShim();
  std::vector<std::string> pieces;
  char* joined = nullptr;
  size_t bytes = 0;
  if (shim.pieces(processor_, text.data(), text.size(), &joined, &bytes) != 0) return pieces;
  for (size_t i = 0; i < bytes;) {
    pieces.emplace_back(joined + i);
    i += pieces.back().size() + 1;
  }
  shim.free(joined);
  return pieces;
}

int64_t SentencePiece::Encode(std::string_view text, int64_t max_length, std::vector<int64_t>& ids) const {
  const Shim& shim = GetShim();
  int* pieces = nullptr;
  size_t n = 0;
  if (shim.encode(processor_, text.data(), text.size(), &pieces, &n) != 0) n = 0;
  const size_t begin = ids.size();
  const auto room = static_cast<size_t>(std::max<int64_t>(max_length, 2) - 2);
  ids.push_back(cls_id());
  for (size_t i = 0; i < n && i < room; ++i) ids.push_back(pieces[i]);
  if (pieces) shim.free(pieces);
  ids.push_back(sep_id());
  return static_cast<int64_t>(ids.size() - begin);
}

int64_t SentencePiece::size() const { return GetShim().size(processor_); }

Status Tokenizer::FromJson(const nlohmann::json& j, std::shared_ptr<const Tokenizer>& out) {
  const std::string type = j.is_object() ? j.value("type", "") : "";
  if (type == "sentencepiece") {
    std::shared_ptr<const SentencePiece> sp;
    SLUICE_RETURN_IF_ERROR(SentencePiece::FromJson(j, sp));
    out = std::move(sp);
    return Status::Ok();
  }
  auto wp = std::make_shared<WordPiece>();
  SLUICE_RETURN_IF_ERROR(WordPiece::FromJson(j, *wp));
  out = std::move(wp);
  return Status::Ok();
}

}  // namespace sluice::text
