// Quoting input in messages. An error names what is wrong and where, and quotes at most
// a short excerpt of the offending text: a 200 MB cell must not become a 200 MB message.
#ifndef SLUICE_EXCERPT_HPP_
#define SLUICE_EXCERPT_HPP_

#include <algorithm>
#include <cstddef>
#include <exception>
#include <string>
#include <string_view>

#include "sluice/export.h"

namespace sluice {

// At most `max_bytes` of `text`, with control characters, NUL bytes and invalid UTF-8
// written as \xNN escapes and never a UTF-8 character cut in half; longer text ends in
// "... (N bytes)". Returns a new string the caller owns.
SLUICE_API std::string Excerpt(std::string_view text, size_t max_bytes = 40);

// `message` without the C++ backtrace LibTorch's errors (c10::Error) end in, from
// "Exception raised from" or the first "frame #0:" on: addresses and mangled frames, of
// no use to a user.
inline std::string_view WithoutBacktrace(std::string_view message) {
  return message.substr(0, std::min(message.find("\nException raised from "), message.find("\nframe #0: ")));
}

// What a library's exception says (`e.what()`), without a LibTorch backtrace and cut to
// `max_bytes`. A parser's message may quote the input it stopped in: nlohmann::json's
// quotes the whole string or number token it was reading, so a 100 MB string would become
// a 100 MB message. Its own words come first and are kept. Inline: a plugin that calls it
// runs in every 1.x host.
inline std::string MessageExcerpt(const std::exception& e, size_t max_bytes = 300) {
  return Excerpt(WithoutBacktrace(e.what()), max_bytes);
}

// The length of the valid UTF-8 character starting at text[i], or 0 if the bytes there
// are not one.
SLUICE_API size_t Utf8CharLength(std::string_view text, size_t i);

// The offset of the first byte of `text` that is not valid UTF-8, or npos.
SLUICE_API size_t FirstInvalidUtf8(std::string_view text);

}  // namespace sluice

#endif  // SLUICE_EXCERPT_HPP_
