"""A real sweep with and without ASHA: the Fashion-MNIST MLP (pipelines/fashion_mnist_mlp.toml)
over learning rate, width, dropout and batch size, 9 epochs a trial.

Both sweeps use the random sampler with one seed, so trial i gets the same parameters in
both: the only difference is that ASHA (rungs at epochs 1 and 3, keeping the top third;
never at the last epoch, max_resource = 9) stops trials early. Compute is counted in
epochs trained and in seconds spent in the trainer stage; the best is the best test accuracy (eval.accuracy) of a finished trial.

    /usr/bin/python3 bench/sweep_asha.py [--build build] [--trials 12]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

SWEEP = """
[sweep]
metric = "eval.accuracy"
direction = "maximize"
sampler = "random"
trials = {trials}
pruner = "{pruner}"
prune_metric = "train.val_accuracy"
min_resource = 1
max_resource = 9
reduction_factor = 3
warm_start = false
seed = 11

[sweep.space]
"train.lr" = {{ log_uniform = [1e-4, 3e-1] }}
"model.hidden" = {{ choice = [[64], [256], [512, 256]] }}
"model.dropout" = {{ uniform = [0.0, 0.5] }}
"train.batch_size" = {{ int = [64, 512], step = 64 }}
"""


def sweep(sluice, base, pruner, trials, tmp):
    path = os.path.join(tmp, f"{pruner}.toml")
    with open(path, "w") as f:
        f.write(base.replace("epochs = 3", "epochs = 9") + SWEEP.format(trials=trials, pruner=pruner))
    env = dict(os.environ, SLUICE_STORE=os.path.join(tmp, pruner))
    t = time.perf_counter()
    out = json.loads(subprocess.run([sluice, "sweep", path, "--json"], env=env, check=True, capture_output=True,
                                    text=True).stdout)
    wall = time.perf_counter() - t
    study = json.loads(subprocess.run([sluice, "studies", "show", out["study"], "--json"], env=env, check=True,
                                      capture_output=True, text=True).stdout)
    epochs = train_seconds = 0.0
    accuracy = {}
    for trial in study["trials"]:
        run = json.loads(subprocess.run([sluice, "runs", "show", trial["run"], "--json"], env=env, check=True,
                                        capture_output=True, text=True).stdout)
        points = json.loads(subprocess.run([sluice, "runs", "metrics", trial["run"], "train.val_accuracy", "--json"],
                                           env=env, check=True, capture_output=True, text=True).stdout)
        epochs += len(points)
        train_seconds += sum(s["seconds"] or 0 for s in run["stages"] if s["name"] == "train")
        if trial["state"] == "complete":
            accuracy[trial["number"]] = trial["value"]
    return {"wall": wall, "epochs": epochs, "train_seconds": train_seconds, "best": out["best"]["value"],
            "best_trial": out["best"]["trial"], "pruned": out["pruned"], "complete": out["complete"],
            "accuracy": accuracy}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--trials", type=int, default=12)
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sluice = os.path.abspath(os.path.join(args.build, "bin", "sluice"))
    with open(os.path.join(root, "pipelines", "fashion_mnist_mlp.toml")) as f:
        base = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        full = sweep(sluice, base, "none", args.trials, tmp)
        asha = sweep(sluice, base, "asha", args.trials, tmp)
    print(f"{args.trials} trials of the Fashion-MNIST MLP, 9 epochs each, the same sampled parameters in both")
    print(f"{'':22s} {'best acc':>9s} {'trial':>6s} {'epochs':>7s} {'train s':>8s} {'wall s':>7s} {'pruned':>7s}")
    for name, r in (("no pruning", full), ("ASHA (eta 3, rungs 1/3)", asha)):
        print(f"{name:22s} {r['best']:9.4f} {r['best_trial']:>6} {r['epochs']:7.0f} {r['train_seconds']:8.1f} "
              f"{r['wall']:7.1f} {r['pruned']:7d}")
    print(f"ASHA compute / full: {asha['epochs'] / full['epochs']:.2f} in epochs, "
          f"{asha['train_seconds'] / full['train_seconds']:.2f} in trainer seconds, "
          f"{asha['wall'] / full['wall']:.2f} in wall time (target <= 0.40)")
    print(f"ASHA best - full best: {asha['best'] - full['best']:+.4f} accuracy")


if __name__ == "__main__":
    main()
