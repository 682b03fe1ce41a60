#include "text_encoding.hpp"

#include "sluice/excerpt.hpp"
#include "sluice/torch.hpp"

namespace sluice::text {

torch::Tensor EncodeTexts(const Tokenizer& tokenizer, const std::vector<std::string>& texts, int64_t max_length,
                          int64_t* truncated, int64_t* tokens) {
  const auto n = static_cast<int64_t>(texts.size());
  torch::Tensor out = torch::zeros({n, max_length}, torch::kInt64);
  int64_t* data = out.data_ptr<int64_t>();
  std::vector<int64_t> ids, full;
  int64_t cut = 0, kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    ids.clear();
    const int64_t length = tokenizer.Encode(texts[static_cast<size_t>(i)], max_length, ids);
    if (truncated && length == max_length) {
      full.clear();
      if (tokenizer.Encode(texts[static_cast<size_t>(i)], max_length + 1, full) > max_length) ++cut;
    }
    kept += length;
    std::copy(ids.begin(), ids.end(), data + i * max_length);
  }
  if (truncated) *truncated = cut;
  if (tokens) *tokens = kept;
  return out;
}

nlohmann::json TextPreprocessing::ToJson() const {
  return {{"kind", "text"},
          {"format_version", kPreprocessingFormat},
          {"text_column", text_column},
          {"target", target},
          {"task", task},
          {"class_names", class_names},
          {"max_length", max_length},
          {"tokenizer", tokenizer->ToJson()}};
}

Status TextPreprocessing::FromJson(const nlohmann::json& j, TextPreprocessing& out) {
  try {
    if (j.value("kind", "") != "text") return Status::InvalidArgument("the preprocessing is not of kind text");
    out.text_column = j.at("text_column").get<std::string>();
    out.target = j.value("target", "");
    out.task = j.value("task", "classification");
    out.class_names = j.value("class_names", std::vector<std::string>{});
    out.max_length = j.at("max_length").get<int64_t>();
    return Tokenizer::FromJson(j.at("tokenizer"), out.tokenizer);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("the text preprocessing is malformed: ") + MessageExcerpt(e));
  }
}

}  // namespace sluice::text
