"""Sweep overhead: trials of a trivial objective with SQLite storage, sluice against
Optuna 3.1, whole processes timed side by side.

sluice: `sluice sweep` over test-objective (a quadratic in x and y) with TPE; every trial
is a recorded run (parameters, stages, environment, metrics) in the store.
Optuna:  optuna.create_study(storage="sqlite:///...") with TPESampler, the same quadratic.

    /usr/bin/python3 bench/sweep_overhead.py [--build build] [--trials 1000] [--optuna-trials 200]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

PIPELINE = """[pipeline]
name = "overhead"
seed = 1

[stages.f]
plugin = "test-objective"

[sweep]
metric = "f.value"
direction = "minimize"
sampler = "tpe"
trials = {trials}

[sweep.space]
"f.x" = {{ uniform = [-4.0, 4.0] }}
"f.y" = {{ uniform = [-4.0, 4.0] }}
"""

OPTUNA = """
import sys, optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(storage=sys.argv[1], sampler=optuna.samplers.TPESampler(seed=1))
study.optimize(lambda t: (t.suggest_float("x", -4, 4) - 2) ** 2 + (t.suggest_float("y", -4, 4) + 1) ** 2,
               n_trials=int(sys.argv[2]))
print(len(study.trials), study.best_value)
"""


def timed(cmd, env=None):
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--optuna-trials", type=int, default=200)
    args = ap.parse_args()
    sluice = os.path.abspath(os.path.join(args.build, "bin", "sluice"))
    plugins = os.path.abspath(os.path.join(args.build, "tests", "plugins", "objective"))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "overhead.toml")
        with open(path, "w") as f:
            f.write(PIPELINE.format(trials=args.trials))
        env = dict(os.environ, SLUICE_PLUGIN_PATH=plugins, SLUICE_STORE=os.path.join(tmp, "store"))
        ours, out = timed([sluice, "sweep", path, "--json"], env)
        db = os.path.join(tmp, "optuna.db")
        theirs, peer_out = timed([sys.executable, "-c", OPTUNA, "sqlite:///" + db, str(args.optuna_trials)])
        runs = subprocess.run([sluice, "runs", "list", "--limit", "0", "--csv"], env=env, capture_output=True,
                              text=True).stdout.count("\n") - 1
    per_ours = ours / args.trials * 1000
    per_theirs = theirs / args.optuna_trials * 1000
    print(f"sluice sweep:  {args.trials} trials in {ours:.2f} s = {per_ours:.2f} ms/trial ({runs} runs recorded)")
    print(f"Optuna 3.1:    {args.optuna_trials} trials in {theirs:.2f} s = {per_theirs:.2f} ms/trial "
          f"(SQLite storage)")
    print(f"per-trial speed-up, sluice vs Optuna: {per_theirs / per_ours:.1f}x  (target >= 20x)")


if __name__ == "__main__":
    main()
