"""The inference path `sluice predict` and `sluice serve` share, in float32 and bfloat16
(--precision bf16: CPU autocast, oneDNN on AVX-512 BF16, channels-last images), against
the same models in Python PyTorch (Debian's python3-torch): rows/s of the forward passes
(the median of several rounds, alternating) and accuracy on held-out data for each mode.

  - CNN: pipelines/fashion_mnist_cnn.toml's bundle; throughput on the 60,000 training
    images (so one-time setup is amortized), accuracy on the 10,000 test images; the peer
    is bench/predict_peer.py (float32, and bfloat16 autocast with channels-last), in batches
    of 1,024 (what sluice predict is asked for) and of 128 (Python's fastest here).
  - Text: all-MiniLM-L6-v2 fine-tuned on Reuters grain stories (1 epoch, 400 training
    stories; accuracy here is about agreement between modes, not about the model), on
    ReutersGrain-test's 604 stories, batches of 64; the peer is transformers'
    BertForSequenceClassification on `sluice models export --format hf`'s folder (the venv
    tools/setup --bench makes), same token ids' lengths, forward passes timed alone; also in
    bfloat16 autocast and with int8 dynamic quantization of its linear layers.

  tools/setup --bench && /usr/bin/python3 bench/inference.py [BUILD] [--rounds 3] [--store DIR]
"""
import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FASHION = "/usr/share/datasets/fashion-mnist"
REUTERS = "/usr/local/share/sluice/data/weka/examples/ReutersGrain-test.arff"
VENV = "/var/tmp/sluice-mlflow"

TEXT_PEER = r'''
import json, sys, time, torch
from transformers import AutoTokenizer, BertForSequenceClassification
torch.set_num_threads(2)
folder, texts_file, mode = sys.argv[1], sys.argv[2], sys.argv[3]
texts = json.load(open(texts_file))
tok = AutoTokenizer.from_pretrained(folder)
net = BertForSequenceClassification.from_pretrained(folder).eval()
if mode == "int8":  # dynamic quantization of the linear layers (oneDNN: Debian's torch has no FBGEMM)
    torch.backends.quantized.engine = "onednn"
    net = torch.ao.quantization.quantize_dynamic(net, {torch.nn.Linear}, dtype=torch.qint8)
batches = [tok(texts[i:i + 64], truncation=True, max_length=128, padding=True, return_tensors="pt")
           for i in range(0, len(texts), 64)]
forward = 0.0
with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
    net(**batches[0])
    for b in batches:
        t0 = time.perf_counter()
        net(**b)
        forward += time.perf_counter() - t0
print(json.dumps({"rows_per_sec": len(texts) / forward}))
'''


def sluice_predict(sluice, env, model, source, precision, extra=()):
    out = tempfile.mktemp(suffix=".csv")
    r = subprocess.run([sluice, "predict", model, "--input", source, "--output", out, "--precision", precision,
                        "--json", *extra], env=env, capture_output=True, text=True, check=True)
    rows = np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2)
    os.remove(out)
    return json.loads(r.stdout)["samples_per_sec"], rows


def reuters_texts_and_labels():
    text = open(REUTERS).read().split("@data", 1)[1]
    texts, labels = [], []
    for m in re.finditer(r"'((?:[^'\\]|\\.)*)',(\d)", text):
        texts.append(m.group(1).replace("\\n", "\n").replace("\\'", "'"))
        labels.append(int(m.group(2)))
    return texts, np.array(labels)


def macro_f1(pred, labels):
    f1 = []
    for c in np.unique(labels):
        tp = np.sum((pred == c) & (labels == c))
        p, r = tp / max(1, np.sum(pred == c)), tp / max(1, np.sum(labels == c))
        f1.append(0 if p + r == 0 else 2 * p * r / (p + r))
    return float(np.mean(f1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--store", default="", help="reuse the models trained into this store")
    ap.add_argument("--models", default="cnn,text")
    args = ap.parse_args()
    sluice = os.path.join(args.build, "bin", "sluice")
    store = args.store or tempfile.mkdtemp(prefix="sluice-bench-inference-")
    env = dict(os.environ, SLUICE_STORE=store)

    def registered(name):
        r = subprocess.run([sluice, "models", "show", name, "--json"], env=env, capture_output=True, text=True)
        return json.loads(r.stdout)["path"] if r.returncode == 0 else None

    if "cnn" in args.models:
        if not registered("fashion-mnist-cnn"):
            subprocess.run([sluice, "run", os.path.join(ROOT, "pipelines", "fashion_mnist_cnn.toml")], env=env,
                           check=True, capture_output=True)
        bundle = registered("fashion-mnist-cnn")
        train = f"{FASHION}/train-images-idx3-ubyte.gz"
        test = f"{FASHION}/t10k-images-idx3-ubyte.gz"
        labels = np.frombuffer(gzip.open(f"{FASHION}/t10k-labels-idx1-ubyte.gz").read(), dtype=np.uint8, offset=8)
        # Python in batches of 1,024 (as sluice predict is asked) and of 128 (its fastest here).
        speed = {k: [] for k in ("sluice fp32", "sluice bf16", "python fp32", "python bf16", "python fp32 b128",
                                 "python bf16 b128")}
        for _ in range(args.rounds):
            for precision in ("fp32", "bf16"):
                speed[f"sluice {precision}"].append(sluice_predict(sluice, env, "fashion-mnist-cnn", train,
                                                                   precision)[0])
                for batch, suffix in ((1024, ""), (128, " b128")):
                    out = tempfile.mktemp(suffix=".csv")
                    flags = ["--bf16"] if precision == "bf16" else []
                    r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "predict_peer.py"), bundle, train, out,
                                        "--batch-size", str(batch), *flags], capture_output=True, text=True,
                                       check=True)
                    os.remove(out)
                    speed[f"python {precision}{suffix}"].append(
                        json.loads(r.stdout.strip().splitlines()[-1])["rows_per_sec"])
        accuracy = {}
        for precision in ("fp32", "bf16"):
            rows = sluice_predict(sluice, env, "fashion-mnist-cnn", test, precision)[1]
            accuracy[precision] = float(np.mean(rows[:, 1] == labels))
        base = statistics.median(speed["python fp32"])
        print(f"CNN, Fashion-MNIST (forward rows/s on 60,000 images, median of {args.rounds}; accuracy on 10,000)")
        for name, values in speed.items():
            precision = name.split()[1]
            acc = f"  accuracy {accuracy[precision]:.4f}" if name.startswith("sluice") else ""
            print(f"  {name:16} {statistics.median(values):8.0f} rows/s  {statistics.median(values) / base:5.2f}x "
                  f"python fp32{acc}")

    if "text" in args.models:
        if not registered("reuters-grain-minilm"):
            subprocess.run([sluice, "run", os.path.join(ROOT, "pipelines", "reuters_grain_minilm.toml"), "--set",
                            "train.epochs=1", "--set", "data.train_examples=400"], env=env, check=True,
                           capture_output=True)
        hf = os.path.join(store, "..", os.path.basename(store) + "-hf")
        if not os.path.exists(hf):
            subprocess.run([sluice, "models", "export", "reuters-grain-minilm", "--format", "hf", "--output", hf],
                           env=env, check=True, capture_output=True)
        texts, labels = reuters_texts_and_labels()
        texts_file = tempfile.mktemp(suffix=".json")
        json.dump(texts, open(texts_file, "w"))
        speed = {k: [] for k in ("sluice fp32", "sluice bf16", "python fp32", "python bf16", "python int8")}
        results = {}
        for _ in range(args.rounds):
            for precision in ("fp32", "bf16"):
                rps, rows = sluice_predict(sluice, env, "reuters-grain-minilm", REUTERS, precision,
                                           ("--batch-size", "64"))
                speed[f"sluice {precision}"].append(rps)
                results[precision] = rows
            for mode in ("fp32", "bf16", "int8"):
                r = subprocess.run([f"{VENV}/bin/python", "-c", TEXT_PEER, hf, texts_file, mode], capture_output=True,
                                   text=True, check=True, env=dict(os.environ, TOKENIZERS_PARALLELISM="false"))
                speed[f"python {mode}"].append(json.loads(r.stdout.strip().splitlines()[-1])["rows_per_sec"])
        base = statistics.median(speed["python fp32"])
        print(f"Text, BERT 6x384 on ReutersGrain-test ({len(texts)} stories, batches of 64, median of {args.rounds})")
        for name, values in speed.items():
            extra = ""
            if name.startswith("sluice"):
                pred = results[name.split()[1]][:, 1]
                extra = (f"  accuracy {np.mean(pred == labels):.4f}  macro-F1 {macro_f1(pred, labels):.4f}")
            print(f"  {name:12} {statistics.median(values):8.1f} rows/s  {statistics.median(values) / base:5.2f}x "
                  f"python fp32{extra}")
        gap = np.abs(results["fp32"][:, 2:] - results["bf16"][:, 2:]).max()
        print(f"  largest probability difference bf16 vs fp32: {gap:.4f}")


if __name__ == "__main__":
    main()
