"""Tokenizer throughput, side by side: Sluice's WordPiece (sluice_bench_tokenizer) against
Hugging Face's fast tokenizer (tokenizers, Rust) and transformers' BertTokenizer (Python
WordPiece) on the same texts and vocabulary (all-MiniLM-L6-v2, uncased): Reuters-21578
Grain stories, one per line. Several rounds each; medians; the ratio to each peer.

  tools/setup --oracle     # the peers, in /var/tmp/sluice-oracle
  /var/tmp/sluice-oracle/bin/python bench/tokenizer.py [BUILD]
"""
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time

from tokenizers import BertWordPieceTokenizer
from transformers import BertTokenizer

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
DATA = "/usr/local/share/sluice/data"
VOCAB = f"{DATA}/models/all-MiniLM-L6-v2"
ROUNDS = 5


def reuters_texts():
    texts = []
    for name in ("ReutersGrain-train", "ReutersGrain-test"):
        for line in open(f"{DATA}/weka/examples/{name}.arff", encoding="utf-8"):
            m = re.match(r"^'(.*)',\d\s*$", line)
            if m:
                texts.append(m.group(1).replace("\\n", " ").replace("\\'", "'"))
    return texts


def timed(fn):
    runs = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main():
    texts = reuters_texts()
    size = sum(len(t.encode()) for t in texts)
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write("\n".join(texts) + "\n")
        f.flush()
        out = subprocess.run([f"{BUILD}/bin/sluice_bench_tokenizer", VOCAB, f.name, str(ROUNDS)],
                             check=True, capture_output=True, text=True).stdout
    sluice = json.loads(out)
    fast = BertWordPieceTokenizer(f"{VOCAB}/vocab.txt", lowercase=True)
    slow = BertTokenizer(f"{VOCAB}/vocab.txt", do_lower_case=True)
    fast_1 = timed(lambda: [fast.encode(t) for t in texts])
    fast_batch = timed(lambda: fast.encode_batch(texts))
    slow_s = timed(lambda: [slow.encode(t) for t in texts])
    mb = size / 1e6
    print(f"{len(texts)} Reuters stories, {mb:.2f} MB, {sluice['tokens']} tokens (sluice)")
    print(f"{'tokenizer':48} {'MB/s':>8} {'sluice x':>9}")
    rows = [("sluice WordPiece (C++, one text at a time)", sluice["median_s"]),
            ("HF tokenizers (Rust), one text at a time", fast_1),
            ("HF tokenizers (Rust), encode_batch (all threads)", fast_batch),
            ("transformers BertTokenizer (Python)", slow_s)]
    for name, s in rows:
        print(f"{name:48} {mb / s:8.2f} {s / sluice['median_s']:9.2f}")


if __name__ == "__main__":
    main()
