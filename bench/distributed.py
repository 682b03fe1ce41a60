#!/usr/bin/python3
"""Data-parallel scaling, side by side in one run (rounds interleaved, medians):

  sluice run pipelines/fashion_mnist_{mlp,cnn}.toml with 1 rank of one thread, and with
  --nproc 2 (two ranks of one thread each: this machine's two cores), against PyTorch's
  DistributedDataParallel under torchrun doing the same work (bench/ddp_peer.py, Gloo,
  one thread per rank), 1 and 2 ranks.

Throughput is the training steps' samples per second of the last epoch (all ranks'
samples), as each side measures it itself. The issue's targets: 2 ranks / 1 rank >= 1.8x,
and sluice with 2 ranks >= 1.0x DDP with 2 ranks.

  /usr/bin/python3 bench/distributed.py [--build build] [--rounds 5] [--epochs 2] [--models mlp cnn]

Needs tools/setup --bench (python3-torch, which carries torchrun) and a Release build.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(argv, env=None):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=["mlp", "cnn"])
    ap.add_argument("--prefetch", type=int, help="sluice's train.prefetch (default: the trainer's, 2 batches on a thread)")
    args = ap.parse_args()
    sluice = os.path.join(args.build, "bin", "sluice")
    store = tempfile.mkdtemp(prefix="sluice-bench-dist-")
    env = dict(os.environ, SLUICE_STORE=store, OMP_NUM_THREADS="1")

    def sluice_rate(model, ranks):
        # The pipeline's network and data; the peer's constant-rate AdamW, every epoch run.
        cmd = [sluice, "run", os.path.join(ROOT, "pipelines", f"fashion_mnist_{model}.toml"), "--json", "--quiet",
               "--set", "pipeline.threads=1", "--set", f"train.epochs={args.epochs}", "--set", "train.lr=1e-3",
               "--set", "train.weight_decay=0.0", "--set", 'train.schedule="none"', "--set", "train.warmup_steps=0",
               "--set", 'train.early_stopping="none"']
        if args.prefetch is not None:
            cmd += ["--set", f"train.prefetch={args.prefetch}"]
        if ranks > 1:
            cmd += ["--nproc", str(ranks)]
        out = json.loads(run(cmd, env))
        return out["metrics"]["train.samples_per_sec"], out["metrics"]["eval.accuracy"]

    def ddp_rate(model, ranks):
        result = os.path.join(store, "ddp.json")
        peer = [os.path.join(HERE, "ddp_peer.py"), "--model", model, "--epochs", str(args.epochs), "--threads", "1",
                "--out", result]
        if ranks > 1:
            # --redirects 3: see ddp_peer.py (Debian's torchrun under Python 3.11).
            cmd = ["/usr/bin/torchrun", "--standalone", "--nproc_per_node", str(ranks), "--redirects", "1", "--tee", "1",
                   "--log_dir", tempfile.mkdtemp(dir=store)] + peer
        else:
            cmd = ["/usr/bin/python3"] + peer
        run(cmd, env)
        with open(result) as f:
            out = json.load(f)
        return out["samples_per_sec"][-1], out["test_accuracy"]

    contenders = [("sluice", 1, sluice_rate), ("sluice", 2, sluice_rate), ("ddp", 1, ddp_rate), ("ddp", 2, ddp_rate)]
    for model in args.models:
        results = {(name, ranks): [] for name, ranks, _ in contenders}
        accuracy = {(name, ranks): [] for name, ranks, _ in contenders}
        for r in range(args.rounds):
            for name, ranks, measure in contenders:
                rate, acc = measure(model, ranks)
                results[(name, ranks)].append(rate)
                accuracy[(name, ranks)].append(acc)
            print(f"  {model} round {r + 1}/{args.rounds}: " +
                  ", ".join(f"{n} x{k} {v[-1]:.0f}/s" for (n, k), v in results.items()), file=sys.stderr)
        med = {k: statistics.median(v) for k, v in results.items()}
        paired = lambda a, b: statistics.median(x / y for x, y in zip(results[a], results[b]))
        print(f"\nFashion-MNIST {model.upper()}, AdamW, global batch 128, {args.epochs} epochs, one thread per rank; "
              f"median of {args.rounds} rounds (samples/s of the last epoch, all ranks)")
        print(f"{'':36}{'1 rank':>10}{'2 ranks':>10}{'scaling':>10}{'test acc (2)':>14}")
        for name, label in (("sluice", "sluice run --nproc"), ("ddp", "PyTorch DDP under torchrun")):
            print(f"  {label:34}{med[(name, 1)]:10.0f}{med[(name, 2)]:10.0f}"
                  f"{paired((name, 2), (name, 1)):9.2f}x{statistics.mean(accuracy[(name, 2)]):14.4f}")
        print(f"  2 ranks, sluice / DDP: {paired(('sluice', 2), ('ddp', 2)):.2f}x (target >= 1.0); "
              f"scaling target >= 1.8x")


if __name__ == "__main__":
    main()
