// Quoting input in messages (sluice/excerpt.hpp): bounded, escaped, whole characters.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "sluice/excerpt.hpp"

namespace sluice {
namespace {

TEST(ExcerptTest, QuotesShortTextAsItIsAndCutsLongTextSayingHowLong) {
  EXPECT_EQ(Excerpt("credit-g"), "credit-g");
  EXPECT_EQ(Excerpt(std::string(100, 'x'), 10), "xxxxxxxxxx... (100 bytes)");
  EXPECT_EQ(Excerpt(std::string(20u << 20, '9')).size(), 40u + std::string("... (20971520 bytes)").size());
}

TEST(ExcerptTest, EscapesControlBytesAndBrokenUtf8AndNeverSplitsACharacter) {
  EXPECT_EQ(Excerpt(std::string("a\0b\nc\x1b", 6)), "a\\x00b\\x0ac\\x1b");
  EXPECT_EQ(Excerpt("K\xF6ln"), "K\\xf6ln");         // Latin-1
  EXPECT_EQ(Excerpt("K\xC3\xB6ln"), "K\xC3\xB6ln");  // UTF-8
  EXPECT_EQ(Excerpt("\xC3\xB6\xC3\xB6\xC3\xB6", 5), "\xC3\xB6\xC3\xB6... (6 bytes)");
  EXPECT_EQ(Excerpt("\xE0\x80\xAF"), "\\xe0\\x80\\xaf");  // an overlong '/'
  EXPECT_EQ(Excerpt("\xED\xA0\x80"), "\\xed\\xa0\\x80");  // a UTF-16 surrogate
}

TEST(ExcerptTest, AParsersMessageKeepsItsWordsAndLosesMostOfTheTokenItQuotes) {
  const std::string message = "parse error at line 1: invalid string; last read: '\"" + std::string(1u << 20, 'x');
  const std::string cut = MessageExcerpt(std::runtime_error(message));
  EXPECT_EQ(cut.substr(0, 52), message.substr(0, 52));
  EXPECT_EQ(cut.size(), 300u + std::string("... (1048629 bytes)").size()) << cut;
  EXPECT_EQ(MessageExcerpt(std::runtime_error("type must be string, but is number")),
            "type must be string, but is number");
}

TEST(ExcerptTest, ALibTorchErrorLosesItsBacktrace) {
  const std::string what =
      "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)\nException raised from meta at "
      "aten/src/ATen/native/LinearAlgebra.cpp:190 (most recent call first):\nframe #0: c10::Error::Error(...)";
  EXPECT_EQ(WithoutBacktrace(what), "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)");
  EXPECT_EQ(MessageExcerpt(std::runtime_error(what)), "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)");
  EXPECT_EQ(WithoutBacktrace("[enforce fail at alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: can't allocate "
                             "memory\nframe #0: <unknown function> + 0x4c062"),
            "[enforce fail at alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: can't allocate memory");
  EXPECT_EQ(WithoutBacktrace("two\nlines"), "two\nlines");
}

TEST(ExcerptTest, FindsTheFirstByteThatIsNotUtf8) {
  EXPECT_EQ(FirstInvalidUtf8("plain ascii"), std::string_view::npos);
  EXPECT_EQ(FirstInvalidUtf8("caf\xC3\xA9"), std::string_view::npos);
  EXPECT_EQ(FirstInvalidUtf8("caf\xE9.csv"), 3u);
  EXPECT_EQ(FirstInvalidUtf8("ok\xC3"), 2u);  // cut short
  EXPECT_EQ(Utf8CharLength("\xF0\x9F\x98\x80", 0), 4u);
  EXPECT_EQ(Utf8CharLength("\xF4\x90\x80\x80", 0), 0u);  // past U+10FFFF
}

}  // namespace
}  // namespace sluice
