// libsluice_sentencepiece: Debian's libsentencepiece behind a C interface, loaded by
// sentencepiece.cpp with dlopen(RTLD_LOCAL) on first use. libsentencepiece carries its own
// copy of protobuf-lite, whose symbols would otherwise take the place of libprotobuf's
// (which LibTorch loads) and crash its initialization: loaded apart, each keeps its own.
// Every function catches everything; errors come back as malloc'ed text the caller frees
// with sluice_spm_free.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

char* Copy(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

class Sentences final : public sentencepiece::SentenceIterator {
 public:
  Sentences(const char* const* texts, size_t n) : texts_(texts), n_(n) { Load(); }
  bool done() const override { return i_ >= n_; }
  void Next() override {
    ++i_;
    Load();
  }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  void Load() {
    if (i_ < n_) value_ = texts_[i_];
  }
  const char* const* texts_;
  size_t n_, i_ = 0;
  std::string value_;
};

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void sluice_spm_free(void* p) { std::free(p); }

__attribute__((visibility("default"))) int sluice_spm_train(const char* const* texts, size_t n, const char* const* keys,
                                                            const char* const* values, size_t nargs, char** model,
                                                            size_t* model_size, char** error) {
  try {
    std::unordered_map<std::string, std::string> args;
    for (size_t i = 0; i < nargs; ++i) args[keys[i]] = values[i];
    Sentences sentences(texts, n);
    std::string proto;
    const auto status = sentencepiece::SentencePieceTrainer::Train(args, &sentences, &proto);
    if (!status.ok()) {
      *error = Copy(status.ToString());
      return 1;
    }
    *model = static_cast<char*>(std::malloc(proto.size()));
    std::memcpy(*model, proto.data(), proto.size());
    *model_size = proto.size();
    return 0;
  } catch (const std::exception& e) {
    *error = Copy(e.what());
  } catch (...) {
    *error = Copy("an unknown exception in SentencePiece");
  }
  return 1;
}

__attribute__((visibility("default"))) void* sluice_spm_load(const char* model, size_t size, char** error) {
  try {
    auto* p = new sentencepiece::SentencePieceProcessor();
    const auto status = p->LoadFromSerializedProto(std::string_view(model, size));
    if (!status.ok()) {
      *error = Copy(status.ToString());
      delete p;
      return nullptr;
    }
    return p;
  } catch (...) {
    *error = Copy("SentencePiece could not load the model");
  }
  return nullptr;
}

__attribute__((visibility("default"))) void sluice_spm_unload(void* p) {
  delete static_cast<sentencepiece::SentencePieceProcessor*>(p);
}

__attribute__((visibility("default"))) int sluice_spm_size(void* p) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(p)->GetPieceSize();
}

__attribute__((visibility("default"))) int sluice_spm_piece_id(void* p, const char* piece) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(p)->PieceToId(piece);
}

// The ids of `text`, malloc'ed; 0 on success.
__attribute__((visibility("default"))) int sluice_spm_encode(void* p, const char* text, size_t size, int** ids,
                                                             size_t* n) {
  try {
    std::vector<int> out;
    if (!static_cast<sentencepiece::SentencePieceProcessor*>(p)->Encode(std::string_view(text, size), &out).ok()) {
      return 1;
    }
    *ids = static_cast<int*>(std::malloc(out.size() * sizeof(int) + 1));
    if (!out.empty()) std::memcpy(*ids, out.data(), out.size() * sizeof(int));
    *n = out.size();
    return 0;
  } catch (...) {
    return 1;
  }
}

// The pieces of `text`, each followed by a NUL, malloc'ed; 0 on success.
__attribute__((visibility("default"))) int sluice_spm_pieces(void* p, const char* text, size_t size, char** pieces,
                                                             size_t* bytes) {
  try {
    std::vector<std::string> out;
    if (!static_cast<sentencepiece::SentencePieceProcessor*>(p)->Encode(std::string_view(text, size), &out).ok()) {
      return 1;
    }
    std::string joined;
    for (const std::string& piece : out) joined.append(piece).push_back('\0');
    *pieces = static_cast<char*>(std::malloc(joined.size() + 1));
    std::memcpy(*pieces, joined.data(), joined.size());
    *bytes = joined.size();
    return 0;
  } catch (...) {
    return 1;
  }
}

}  // extern "C"
