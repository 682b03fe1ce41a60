"""Training throughput on text, side by side: Sluice's trainer fine-tuning a BERT of
all-MiniLM-L6-v2's shape (6 layers, 384 wide, 12 heads, feed-forward 1536, vocabulary 30522)
on Reuters-21578 Grain stories (max_length 128, batch 16, AdamW, 2 threads), against the same
architecture written in PyTorch (Debian's python3-torch) the way users write it: the same
token ids (Sluice's tokenizer writes them), batches padded to their longest text, the same
optimizer and threads. Tokens per second, padding excluded; the median of several rounds,
alternating. Two batching policies for each: shuffled (dynamic padding only) and length
buckets (Sluice's default), so the engine and the default are both compared.
Then the latency of one text through `sluice predict`'s path against the PyTorch forward.

  tools/setup --bench && /usr/bin/python3 bench/text_training.py [BUILD] [--rounds 3] [--texts 400]
"""
import argparse
import json
import math
import random
import re
import statistics
import subprocess
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/local/share/sluice/data"
H, LAYERS, HEADS, FFN, VOCAB, MAXLEN, BATCH = 384, 6, 12, 1536, 30522, 128, 16


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(H, H) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(H, eps=1e-12), nn.LayerNorm(H, eps=1e-12)
        self.ff1, self.ff2 = nn.Linear(H, FFN), nn.Linear(FFN, H)
        self.drop = nn.Dropout(0.1)

    def forward(self, h, bias):
        b, l, _ = h.shape
        split = lambda x: x.view(b, l, HEADS, H // HEADS).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        p = self.drop(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(H // HEADS) + bias, -1))
        a = self.ln1(self.drop(self.o((p @ v).transpose(1, 2).reshape(b, l, H))) + h)
        return self.ln2(self.drop(self.ff2(F.gelu(self.ff1(a)))) + a)


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.word, self.pos, self.seg = nn.Embedding(VOCAB, H), nn.Embedding(512, H), nn.Embedding(2, H)
        self.ln = nn.LayerNorm(H, eps=1e-12)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.pool, self.cls, self.drop = nn.Linear(H, H), nn.Linear(H, 2), nn.Dropout(0.1)

    def forward(self, ids):
        mask = ids.ne(0)
        bias = (~mask).float()[:, None, None, :] * torch.finfo(torch.float32).min
        pos = torch.arange(ids.shape[1])
        h = self.drop(self.ln(self.word(ids) + self.pos(pos)[None] + self.seg(torch.zeros_like(ids))))
        for layer in self.layers:
            h = layer(h, bias)
        return self.cls(self.drop(torch.tanh(self.pool(h[:, 0]))))


def batches(seqs, bucket, rng):
    order = list(range(len(seqs)))
    rng.shuffle(order)
    if bucket:
        chunk = BATCH * 50
        order = [i for s in range(0, len(order), chunk) for i in sorted(order[s:s + chunk], key=lambda i: len(seqs[i]))]
    out = [order[s:s + BATCH] for s in range(0, len(order), BATCH)]
    if bucket:
        rng.shuffle(out)
    return out


def torch_epoch(seqs, labels, bucket):
    torch.manual_seed(0)
    model = Bert()
    decay = [p for n, p in model.named_parameters() if "bias" not in n and "ln" not in n]
    rest = [p for n, p in model.named_parameters() if "bias" in n or "ln" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=5e-5)
    model.train()
    tokens, start = 0, time.perf_counter()
    for b in batches(seqs, bucket, random.Random(0)):
        longest = max(len(seqs[i]) for i in b)
        ids = torch.tensor([seqs[i] + [0] * (longest - len(seqs[i])) for i in b])
        y = torch.tensor([labels[i] for i in b])
        opt.zero_grad()
        F.cross_entropy(model(ids), y).backward()
        opt.step()
        tokens += sum(len(seqs[i]) for i in b)
    return tokens / (time.perf_counter() - start), model


def sluice_epoch(build, store, texts, bucket):
    out = subprocess.run([f"{build}/bin/sluice", "run", "pipelines/reuters_grain_minilm.toml", "--json", "--quiet",
                          "--store", store, "--set", "train.epochs=1", "--set", f"data.train_examples={texts}",
                          "--set", "pipeline.threads=2", "--set", f"train.length_buckets={50 if bucket else 1}",
                          "--set", "train.class_weights=none"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["metrics"]["train.tokens_per_sec"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--texts", type=int, default=400)
    a = ap.parse_args()
    torch.set_num_threads(2)
    texts, labels = [], []
    for line in open(f"{DATA}/weka/examples/ReutersGrain-train.arff", encoding="utf-8"):
        m = re.match(r"^'(.*)',(\d)\s*$", line)
        if m:
            texts.append(m.group(1).replace("\\n", "\n").replace("\\'", "'"))
            labels.append(int(m.group(2)))
    texts, labels = texts[:a.texts], labels[:a.texts]
    with tempfile.TemporaryDirectory() as tmp:
        open(f"{tmp}/texts.txt", "w").write("\n".join(t.replace("\n", " ") for t in texts) + "\n")
        subprocess.run([f"{a.build}/bin/sluice_bench_tokenizer", f"{DATA}/models/all-MiniLM-L6-v2", f"{tmp}/texts.txt",
                        "1", f"{tmp}/ids.txt", str(MAXLEN)], check=True, capture_output=True)
        seqs = [[int(x) for x in line.split()] for line in open(f"{tmp}/ids.txt")]
        print(f"{len(seqs)} Reuters stories, {sum(map(len, seqs))} tokens at max_length {MAXLEN}; batch {BATCH}, "
              f"2 threads; torch {torch.__version__}", flush=True)
        results = {}
        for r in range(a.rounds):
            for bucket in (False, True):
                results.setdefault(("sluice", bucket), []).append(sluice_epoch(a.build, f"{tmp}/store{r}", a.texts, bucket))
                results.setdefault(("pytorch", bucket), []).append(torch_epoch(seqs, labels, bucket)[0])
            print(f"round {r + 1}: " + ", ".join(f"{k[0]}{'+buckets' if k[1] else ''} {v[-1]:.0f}"
                                               for k, v in results.items()), flush=True)
        print(f"{'batching':24} {'sluice tok/s':>13} {'pytorch tok/s':>14} {'ratio':>6}")
        for bucket in (False, True):
            s, t = statistics.median(results[("sluice", bucket)]), statistics.median(results[("pytorch", bucket)])
            print(f"{'length buckets' if bucket else 'shuffled':24} {s:13.0f} {t:14.0f} {s / t:6.2f}")

        # One text: sluice predict's path (the predictor's own timing of the forward pass) and PyTorch's forward.
        subprocess.run([f"{a.build}/bin/sluice", "models", "import", f"{DATA}/models/all-MiniLM-L6-v2", "--name",
                        "minilm", "--store", f"{tmp}/store0"], check=True, capture_output=True)
        open(f"{tmp}/one.csv", "w").write('text\n"' + texts[0][:600].replace('"', "'") + '"\n')
        walls, rates = [], []
        for _ in range(5):
            t0 = time.perf_counter()
            out = subprocess.run([f"{a.build}/bin/sluice", "predict", "minilm", "--input", f"{tmp}/one.csv", "--output",
                                  f"{tmp}/one.out", "--force", "--json", "--store", f"{tmp}/store0"],
                                 check=True, capture_output=True, text=True).stdout
            walls.append(time.perf_counter() - t0)
            rates.append(json.loads(out)["samples_per_sec"])
        model = Bert().eval()
        ids = torch.tensor([seqs[0]])
        with torch.no_grad():
            for _ in range(3):
                model(ids)
            times = []
            for _ in range(20):
                t0 = time.perf_counter()
                model(ids)
                times.append(time.perf_counter() - t0)
        print(f"one text ({len(seqs[0])} tokens): sluice predict forward {1000 / statistics.median(rates):.1f} ms "
              f"(whole command {1000 * statistics.median(walls):.0f} ms, process start and model load included); "
              f"PyTorch forward {1000 * statistics.median(times):.1f} ms")


if __name__ == "__main__":
    main()
