#!/usr/bin/python3
"""Sweeps on a PostgreSQL store: per-trial overhead of `sluice sweep --store postgresql://`
against Optuna's RDBStorage on the same server (current Optuna from PyPI, and Debian's
3.1, both through psycopg2), with sluice on SQLite beside them; then 16 sluice workers on
one study.

The same trivial objective everywhere (a quadratic in x and y, TPE, seeded), so what is
measured is the sweep machinery: sampling, the storage's transactions, and for sluice a
whole recorded run per trial (parameters, stages, environment, metrics, artifacts none).
Whole processes are timed, rounds interleaved, medians reported. A throwaway PostgreSQL
server (tools/pg-test-server) runs on a free port for the duration, fsync off for every
contender alike.

  /usr/bin/python3 bench/sweep_postgres.py [--build build] [--trials 200] [--rounds 3] [--workers 16]

Needs tools/setup --bench (postgresql-15, python3-optuna, python3-psycopg2, and current
Optuna in /var/tmp/sluice-optuna).
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from sweep_overhead import OPTUNA, PIPELINE  # the same objective and search, both sides

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd, env=None):
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t, proc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--worker-trials", type=int, default=800)
    args = ap.parse_args()
    sluice = os.path.join(args.build, "bin", "sluice")
    plugins = os.path.join(args.build, "tests", "plugins", "objective")
    current_optuna = "/var/tmp/sluice-optuna/bin/python"
    server = tempfile.mkdtemp(prefix="sluice-bench-pg-")
    port = free_port()
    subprocess.run([os.path.join(ROOT, "tools", "pg-test-server"), "start", server, str(port)], check=True,
                   stdout=subprocess.DEVNULL)
    databases = 0

    def new_database():
        nonlocal databases
        databases += 1
        name = f"bench{databases}"
        subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "sluice", "-d", "postgres", "-c",
                        f"CREATE DATABASE {name}"], check=True)
        return name

    try:
        work = tempfile.mkdtemp(prefix="sluice-bench-sweep-")
        pipeline = os.path.join(work, "overhead.toml")
        with open(pipeline, "w") as f:
            f.write(PIPELINE.format(trials=args.trials))
        base_env = dict(os.environ, SLUICE_PLUGIN_PATH=plugins, SLUICE_ARTIFACT_ROOT=os.path.join(work, "root"))
        versions = {
            "optuna (PyPI)": subprocess.run([current_optuna, "-c", "import optuna; print(optuna.__version__)"],
                                            capture_output=True, text=True).stdout.strip(),
            "optuna (Debian)": subprocess.run(["/usr/bin/python3", "-c", "import optuna; print(optuna.__version__)"],
                                              capture_output=True, text=True).stdout.strip()}
        contenders = {
            "sluice, SQLite": lambda i: [sluice, "sweep", pipeline, "--store", os.path.join(work, f"sqlite{i}")],
            "sluice, PostgreSQL": lambda i: [sluice, "sweep", pipeline, "--store",
                                             f"postgresql://sluice@127.0.0.1:{port}/{new_database()}"],
            "optuna (PyPI)": lambda i: [current_optuna, "-c", OPTUNA,
                                        f"postgresql+psycopg2://sluice@127.0.0.1:{port}/{new_database()}",
                                        str(args.trials)],
            "optuna (Debian)": lambda i: ["/usr/bin/python3", "-c", OPTUNA,
                                          f"postgresql+psycopg2://sluice@127.0.0.1:{port}/{new_database()}",
                                          str(args.trials)],
        }
        seconds = {k: [] for k in contenders}
        for r in range(args.rounds):
            for name, cmd in contenders.items():
                t, _ = timed(cmd(r), base_env)
                seconds[name].append(t)
            print(f"  round {r + 1}/{args.rounds}: " +
                  ", ".join(f"{k} {v[-1] / args.trials * 1000:.1f} ms" for k, v in seconds.items()), file=sys.stderr)
        per = {k: statistics.median(v) / args.trials * 1000 for k, v in seconds.items()}
        print(f"\nper-trial overhead, {args.trials} TPE trials of a quadratic, one process, whole process timed; "
              f"median of {args.rounds} rounds")
        for name, ms in per.items():
            label = name + (f" {versions[name]}, RDBStorage on PostgreSQL" if name in versions else "")
            print(f"  {label:52}{ms:9.2f} ms/trial")
        for name in versions:
            print(f"  {name} / sluice on PostgreSQL: {per[name] / per['sluice, PostgreSQL']:.1f}x (target >= 20x)")

        # Many workers on one study: no lock errors, every trial recorded.
        many = os.path.join(work, "many.toml")
        with open(many, "w") as f:
            f.write(PIPELINE.format(trials=args.worker_trials))
        url = f"postgresql://sluice@127.0.0.1:{port}/{new_database()}"
        t, proc = timed([sluice, "sweep", many, "--store", url, "--jobs", str(args.workers), "--json"], base_env)
        runs = subprocess.run([sluice, "runs", "list", "--store", url, "--limit", "0", "--csv"], env=base_env,
                              capture_output=True, text=True).stdout.count("\n") - 1
        errors = [line for line in proc.stderr.splitlines() if "error" in line.lower() or "locked" in line.lower()]
        print(f"\n{args.workers} workers on one PostgreSQL study: {args.worker_trials} trials in {t:.2f} s "
              f"({t / args.worker_trials * 1000:.2f} ms/trial), {runs} runs recorded, {len(errors)} error lines")
        for line in errors[:5]:
            print("   ", line)
    finally:
        subprocess.run([os.path.join(ROOT, "tools", "pg-test-server"), "stop", server], check=False)


if __name__ == "__main__":
    main()
