"""Golden tokenizations for wordpiece_test.cpp, from Hugging Face's tokenizers (the fast
BertTokenizer) and transformers' slow BertTokenizer as the oracle.

Run with the oracle environment tools/setup --oracle makes:
  /var/tmp/sluice-oracle/bin/python plugins/common/text/testdata/make_wordpiece_goldens.py \
      /usr/local/share/sluice/data/models/all-MiniLM-L6-v2/vocab.txt > wordpiece_goldens.json
Each case records the text, the vocabulary's casing and the expected wordpieces; the script
fails when the two oracles disagree on a case.
"""
import json
import sys

from tokenizers import BertWordPieceTokenizer
from transformers import BertTokenizer

TEXTS = [
    "",
    "   ",
    "Hello, World!",
    "The U.S. wheat export program -- 1.5 mln tonnes (EEP) was O.K.'d.",
    "Café déjà vu: naïve façade, Ångström, Øre, Straße, İstanbul",
    "ÀÉÎÕÜ àéîõü ÇÑ çñ",
    "中文分词测试 and 日本語のテキスト, 한국어 텍스트",
    "tab\tnew\nline\rcarriage\x0bvertical\x0cform feed",
    "nul\x00byte, bell\x07, escape\x1b[0m, zero\u200bwidth, soft\u00adhyphen, bom\ufeffhere",
    "replacement \ufffd char and non\u00a0breaking\u2003em space\u2028line sep",
    "a" * 100,
    "b" * 101,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "unaffable unbelievable grain-sorghum wheat/corn 12,345.67 $1.2 bln",
    "«quotes» “curly” ‘single’ — em-dash … ellipsis ¿qué? ¡sí!",
    "emoji 😀🚀 math ∑∫√ and symbols © ® ™ ° ± µ",
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ and ½ ¼ fractions",
    "Ελληνικά κείμενα και Русский текст",
    "[CLS] [SEP] [MASK] look like special tokens",
    "x" * 40 + " " + "\u00e9" * 101,
]


def main():
    vocab = sys.argv[1]
    cases = []
    for lowercase in (True, False):
        fast = BertWordPieceTokenizer(vocab, lowercase=lowercase, strip_accents=lowercase,
                                      clean_text=True, handle_chinese_chars=True)
        slow = BertTokenizer(vocab, do_lower_case=lowercase, strip_accents=lowercase, never_split=[])
        for text in TEXTS:
            expected = fast.encode(text, add_special_tokens=False).tokens
            slow_tokens = slow.tokenize(text)
            if expected != slow_tokens and "[" not in text:
                raise SystemExit(f"the oracles disagree on {text!r}:\n  fast {expected}\n  slow {slow_tokens}")
            cases.append({"text": text, "lowercase": lowercase, "tokens": expected})
    json.dump({"vocab": "all-MiniLM-L6-v2/vocab.txt", "cases": cases}, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
