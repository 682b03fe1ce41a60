#!/usr/bin/python3
"""Issue-3 benchmarks, side by side in one run (rounds interleaved, medians reported):

  1. CNN training throughput: pipelines/fashion_mnist_cnn.toml's trainer stage vs the same
     network, optimizer and schedule in Python PyTorch (hand-tuned loop and DataLoader),
     one epoch each, same threads and data; achieved GFLOP/s.
  2. Batch inference: `sluice predict` with the CNN bundle on the 10,000 test images vs
     the same model in Python: rows/s of the forward passes, whole-process wall time and
     peak memory.

Usage: bench/models.py [--build build] [--rounds 2] [--threads N]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def run(argv, env=None):
    """Runs argv; returns (stdout, wall seconds, peak RSS in MB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = status  # reaped here, so Popen must not wait again
        out.seek(0)
        err.seek(0)
        if status != 0:
            sys.exit(f"{' '.join(argv)} failed:\n{err.read().decode()[-3000:]}")
        return out.read().decode(), wall, usage.ru_maxrss / 1024.0


def cnn_flops_per_sample():
    """Multiply-adds x 2 of the default cnn plugin network on 28x28, forward; training
    counts three times that (forward, and backward for inputs and weights)."""
    conv1 = 2 * 1 * 9 * 32 * 28 * 28
    conv2 = 2 * 32 * 9 * 64 * 14 * 14
    dense = 2 * (64 * 7 * 7 * 128 + 128 * 10)
    return conv1 + conv2 + dense


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    sluice = os.path.join(args.build, "bin", "sluice")
    store = tempfile.mkdtemp(prefix="sluice-bench-")
    env = dict(os.environ, SLUICE_STORE=store)
    peer = os.path.join(ROOT, "bench", "train_peer.py")
    train = {"sluice": [], "tuned": [], "dataloader": []}
    for r in range(args.rounds):
        seed = r + 1
        out, _, _ = run([sluice, "run", os.path.join(ROOT, "pipelines", "fashion_mnist_cnn.toml"), "--json", "--quiet",
                         "--set", "train.epochs=1", "--set", "train.early_stopping=\"none\"", "--set",
                         f"pipeline.threads={args.threads}", "--set", f"pipeline.seed={seed}"], env)
        res = json.loads(out)
        epochs = json.loads(run([sluice, "runs", "metrics", res["id"], "train.epoch_seconds", "--json"], env)[0])
        train["sluice"].append({"sps": res["metrics"]["data.train_size"] / epochs[0]["value"],
                                "acc": res["metrics"]["eval.accuracy"]})
        for loop in ("tuned", "dataloader"):
            out, _, _ = run(["/usr/bin/python3", peer, "--model", "cnn", "--loop", loop, "--epochs", "1", "--lr", "2e-3",
                             "--weight-decay", "1e-4", "--warmup-steps", "200", "--cosine", "--threads",
                             str(args.threads), "--seed", str(seed)])
            res = json.loads(out)
            train[loop].append({"sps": res["samples_per_sec"], "acc": res["test_accuracy"]})
        print(f"  training round {r + 1}: " + ", ".join(f"{k} {v[-1]['sps']:.0f}/s" for k, v in train.items()),
              file=sys.stderr)

    flops = 3 * cnn_flops_per_sample()
    print(f"CNN training (conv32-conv64-dense128, batch 128, AdamW + cosine, 1 epoch of 54,000 images, "
          f"{args.threads} threads), median of {args.rounds}")
    print(f"  {'':32}{'samples/s':>10}{'GFLOP/s':>9}{'test acc':>10}")
    med = {}
    for key, label in (("sluice", "sluice trainer stage"), ("tuned", "PyTorch, hand-tuned loop"),
                       ("dataloader", "PyTorch, DataLoader loop")):
        sps = statistics.median(x["sps"] for x in train[key])
        med[key] = sps
        acc = statistics.mean(x["acc"] for x in train[key])
        print(f"  {label:32}{sps:10.0f}{sps * flops / 1e9:9.1f}{acc:10.4f}")
    ratio = statistics.median(a["sps"] / b["sps"] for a, b in zip(train["sluice"], train["tuned"]))
    print(f"  ratio sluice / hand-tuned PyTorch: {ratio:.2f}x (target >= 1.0); "
          f"{statistics.median(a['sps'] / b['sps'] for a, b in zip(train['sluice'], train['dataloader'])):.2f}x vs DataLoader")

    # Inference with the bundle the last sluice run registered.
    bundle = json.loads(run([sluice, "models", "show", "fashion-mnist-cnn", "--json"], env)[0])["path"]
    predict = {"sluice": [], "python": []}
    for r in range(max(args.rounds, 3)):
        out, wall, rss = run([sluice, "predict", "fashion-mnist-cnn", "--input", IMAGES, "--output",
                              os.path.join(store, "p.csv"), "--json"], dict(env, OMP_NUM_THREADS=str(args.threads)))
        predict["sluice"].append({"rps": json.loads(out)["samples_per_sec"], "wall": wall, "rss": rss})
        out, wall, rss = run(["/usr/bin/python3", os.path.join(ROOT, "bench", "predict_peer.py"), bundle, IMAGES,
                              os.path.join(store, "py.csv"), "--threads", str(args.threads)])
        predict["python"].append({"rps": json.loads(out)["rows_per_sec"], "wall": wall, "rss": rss})
    print(f"\nBatch inference, CNN bundle on 10,000 images (batch 1024), median of {len(predict['sluice'])}")
    print(f"  {'':32}{'rows/s':>10}{'wall s':>9}{'peak MB':>9}")
    for key, label in (("sluice", "sluice predict"), ("python", "Python PyTorch, same model")):
        m = {k: statistics.median(x[k] for x in predict[key]) for k in ("rps", "wall", "rss")}
        print(f"  {label:32}{m['rps']:10.0f}{m['wall']:9.2f}{m['rss']:9.0f}")
    s = {k: statistics.median(x[k] for x in predict["sluice"]) for k in ("rps", "wall", "rss")}
    p = {k: statistics.median(x[k] for x in predict["python"]) for k in ("rps", "wall", "rss")}
    print(f"  ratios sluice / Python: forward rows/s {s['rps'] / p['rps']:.2f}x, wall {s['wall'] / p['wall']:.2f}, "
          f"peak memory {s['rss'] / p['rss']:.2f}")


if __name__ == "__main__":
    main()
