#!/usr/bin/python3
"""Training benchmarks, measured side by side in one run (runs interleaved, medians
reported, since these machines are noisy):

  1. throughput: the quick-start pipeline's trainer stage vs the same work in Python
     PyTorch, idiomatic (DataLoader) and hand-tuned; test accuracy of each
  2. whole process: `sluice run` vs the Python script: wall time and peak memory
  3. orchestration overhead: the trainer stage vs a minimal hand-written LibTorch loop

Usage: bench/training.py [--build build] [--repeats 3] [--threads N] [--epochs 3]
Needs tools/setup --bench (python3-torch) and a Release build.
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


def run(argv, env=None):
    """Runs argv; returns (stdout, wall seconds)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{err.decode()}")
    return out.decode(), wall


def peak_rss_mb(argv, env=None):
    """Runs argv again only to read its peak RSS (ru_maxrss of the child, in MB)."""
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvpe(argv[0], argv, env or os.environ)
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        sys.exit(f"{' '.join(argv)} failed")
    return usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    sluice = os.path.join(args.build, "bin", "sluice")
    minimal = os.path.join(args.build, "bin", "sluice_bench_minimal_loop")
    pipeline = os.path.join(ROOT, "pipelines", "fashion_mnist_mlp.toml")
    peer = os.path.join(ROOT, "bench", "train_peer.py")
    store = tempfile.mkdtemp(prefix="sluice-bench-")
    env = dict(os.environ, SLUICE_STORE=store)
    # Each round uses its own seed, the same for every contender, so accuracies are
    # compared over the same spread of initializations and shuffles.
    sluice_cmd = lambda seed: [sluice, "run", pipeline, "--json", "--quiet", "--set", f"pipeline.threads={args.threads}",
                               "--set", f"train.epochs={args.epochs}", "--set", f"pipeline.seed={seed}"]
    py = lambda loop, seed: ["/usr/bin/python3", peer, "--loop", loop, "--threads", str(args.threads),
                             "--epochs", str(args.epochs), "--seed", str(seed)]

    results = {k: [] for k in ("sluice", "dataloader", "tuned", "minimal")}
    for r in range(args.repeats):
        seed = r + 1
        out, wall = run(sluice_cmd(seed), env)
        res = json.loads(out)
        epochs = json.loads(run([sluice, "runs", "metrics", res["id"], "train.epoch_seconds", "--json"], env)[0])
        train_seconds = sum(p["value"] for p in epochs)
        results["sluice"].append({"sps": res["metrics"]["data.train_size"] * args.epochs / train_seconds,
                                  "acc": res["metrics"]["eval.accuracy"], "wall": wall})
        out, wall = run([minimal, str(args.epochs), str(args.threads)])
        results["minimal"].append({"sps": json.loads(out)["samples_per_sec"], "acc": float("nan"), "wall": wall})
        for loop in ("dataloader", "tuned"):
            out, wall = run(py(loop, seed))
            res = json.loads(out)
            results[loop].append({"sps": res["samples_per_sec"], "acc": res["test_accuracy"], "wall": wall})
        print(f"  round {r + 1}/{args.repeats}: " + ", ".join(
            f"{k} {v[-1]['sps']:.0f}/s" for k, v in results.items()), file=sys.stderr)

    med = {k: {m: statistics.median(x[m] for x in v) for m in ("sps", "wall")} for k, v in results.items()}
    for k, v in results.items():
        med[k]["acc"] = statistics.mean(x["acc"] for x in v)
        med[k]["best"] = max(x["sps"] for x in v)
    rss = {"sluice": peak_rss_mb(sluice_cmd(1), env), "dataloader": peak_rss_mb(py("dataloader", 1))}

    print(f"\nFashion-MNIST MLP 784-256-10, AdamW, batch 128, {args.epochs} epochs, {args.threads} threads; "
          f"{args.repeats} rounds (seeds 1..{args.repeats}): median and best throughput, mean accuracy, median wall")
    print(f"{'':34}{'samples/s':>12}{'best':>9}{'test acc':>10}{'wall s':>9}")
    names = {"sluice": "sluice trainer stage", "dataloader": "PyTorch, idiomatic DataLoader",
             "tuned": "PyTorch, hand-tuned loop", "minimal": "minimal LibTorch C++ loop"}
    for k, label in names.items():
        acc = "" if k == "minimal" else f"{med[k]['acc']:.4f}"
        print(f"  {label:32}{med[k]['sps']:12.0f}{med[k]['best']:9.0f}{acc:>10}{med[k]['wall']:9.2f}")
    # Ratios are taken within each round (the contenders ran back to back) and the median
    # of those is reported: slow and fast periods of a shared machine cancel out.
    def paired(a, b, metric="sps"):
        return statistics.median(x[metric] / y[metric] for x, y in zip(results[a], results[b]))

    print("\nratios (median of the per-round ratios)")
    print(f"  throughput, sluice / DataLoader loop   {paired('sluice', 'dataloader'):6.2f}x   (target >= 1.3)")
    print(f"  throughput, sluice / hand-tuned loop   {paired('sluice', 'tuned'):6.2f}x   (target >= 1.0)")
    print(f"  accuracy gap vs DataLoader, points     {100 * (med['sluice']['acc'] - med['dataloader']['acc']):+6.2f}    (target within 0.5)")
    print(f"  accuracy gap vs hand-tuned, points     {100 * (med['sluice']['acc'] - med['tuned']['acc']):+6.2f}")
    print(f"  whole process wall, sluice / Python    {paired('sluice', 'dataloader', 'wall'):6.2f}    (target <= 0.5)")
    print(f"  peak memory, sluice / Python           {rss['sluice'] / rss['dataloader']:6.2f}    "
          f"({rss['sluice']:.0f} MB vs {rss['dataloader']:.0f} MB; target <= 0.5)")
    print(f"  trainer overhead vs minimal loop       {100 * (paired('minimal', 'sluice') - 1):+6.1f}%   "
          f"({100 * (med['minimal']['best'] / med['sluice']['best'] - 1):+.1f}% best against best; target within 5%)")


if __name__ == "__main__":
    main()
