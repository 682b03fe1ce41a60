"""`sluice serve` against the servers users would run instead, side by side on this
machine: MLflow's own scoring server (`mlflow models serve`, MLflow 2.19 from PyPI, the
same credit-risk model saved as an MLflow pyfunc model) and a Flask app served by gunicorn
(bench/serve_peer.py). The load generator is Debian's wrk, one row of credit-g per request
(MLflow's dataframe_split), at concurrency 1, 16 and 64, several rounds, alternating, the
medians reported: requests/s, p50 and p99 latency, failed requests (an error status, or
no answer within wrk's 60 s timeout), and the servers' resident memory. Per-request
overhead: sluice's p50 at concurrency 1 minus its mean forward pass (from its own
/metrics).

  tools/setup --bench && /usr/bin/python3 bench/serve.py [BUILD] [--rounds 3] [--seconds 8]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = "/var/tmp/sluice-mlflow"
CREDIT = "/usr/local/share/sluice/data/weka/examples/credit-g.arff"
REUTERS = "/usr/local/share/sluice/data/weka/examples/ReutersGrain-test.arff"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(port, proc, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1).read()
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not come up")


def first_row():
    """credit-g's first row as MLflow's dataframe_split, numbers as numbers."""
    columns, numeric, row = [], [], None
    for line in open(CREDIT):
        line = line.strip()
        if line.lower().startswith("@attribute"):
            name, kind = line.split()[1:3]
            columns.append(name.strip("'"))
            numeric.append(kind.lower() in ("numeric", "real", "integer"))
        elif line and not line.startswith("%") and not line.startswith("@") and row is None and columns:
            cells = [c.strip("'") for c in re.findall(r"'[^']*'|[^,]+", line)]
            row = [float(c) if n else c for c, n in zip(cells, numeric)]
    return {"dataframe_split": {"columns": columns[:-1], "data": [row[:-1]]}}


def rss_mb(pid):
    """Resident memory of a process and all its descendants, MB."""
    total = 0
    out = subprocess.run(["ps", "-o", "pid=,ppid=,rss=", "-e"], capture_output=True, text=True).stdout
    children = {}
    rss = {}
    for line in out.splitlines():
        p, pp, r = (int(x) for x in line.split())
        children.setdefault(pp, []).append(p)
        rss[p] = r
    stack = [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total / 1024


def wrk(port, path, body_file, connections, seconds):
    script = os.path.join(tempfile.gettempdir(), "sluice-wrk.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f'local f = io.open("{body_file}", "r")\nwrk.body = f:read("*a")\nf:close()\n')
    threads = 1 if connections == 1 else 2
    # --timeout: wrk leaves a request slower than its default 2 s out of the latencies (as a
    # socket timeout), which made an overloaded server's p50 and p99 look better than they were.
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "60s",
                          "--latency", "-s", script, f"http://127.0.0.1:{port}{path}"], capture_output=True,
                         text=True).stdout

    def ms(text):
        match = re.match(r"([\d.]+)(us|ms|s|m)$", text)
        if not match:
            raise SystemExit(f"wrk printed a latency of '{text}':\n{out}")
        value, unit = match.groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]

    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
              "p50": ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
              "p99": ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))}
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    result["failed"] = int(failed.group(1)) if failed else 0
    if errors:  # "connect 0, read 0, write 0, timeout 3": requests that got no answer fail too
        result["failed"] += sum(int(n) for n in re.findall(r"\d+", errors.group(1)))
    return result


def first_story():
    """ReutersGrain-test's first story, as the text model's one-column dataframe_split."""
    text = open(REUTERS).read().split("@data", 1)[1].strip()
    story = re.match(r"'((?:[^'\\]|\\.)*)'", text).group(1)
    story = story.replace("\\n", "\n").replace("\\'", "'")
    return {"dataframe_split": {"columns": ["Text"], "data": [[story]]}}


def run_model(title, model, servers, body, levels, args, work):
    """Each server in turn, `args.rounds` times; prints the table of medians."""
    body_file = os.path.join(work, "body.json")
    json.dump(body, open(body_file, "w"))
    results = {name: {c: [] for c in levels} for name in servers}
    memory = {name: [] for name in servers}
    overhead, answers = [], {}
    for _ in range(args.rounds):
        for name, (command, env) in servers.items():
            port = free_port()
            # In the scratch folder: MLflow's server writes an mlruns/ folder where it starts.
            proc = subprocess.Popen(command(port), env=env, cwd=work, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                wait_until_up(port, proc)
                request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations",
                                                 data=open(body_file, "rb").read(),
                                                 headers={"Content-Type": "application/json"})
                answers[name] = json.loads(urllib.request.urlopen(request).read())["predictions"][0]
                wrk(port, "/invocations", body_file, 1, 2)  # warm up
                for c in levels:
                    results[name][c].append(wrk(port, "/invocations", body_file, c, args.seconds))
                    if name == "sluice" and c == 1:  # the float32 server's overhead
                        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
                        seconds = float(re.search(r'sluice_inference_seconds_total\{model="%s"\} (\S+)' % model,
                                                  metrics).group(1))
                        passes = float(re.search(r'sluice_batch_rows_count\{model="%s"\} (\S+)' % model,
                                                 metrics).group(1))
                        overhead.append((results[name][c][-1]["p50"], 1000 * seconds / passes))
                memory[name].append(rss_mb(proc.pid))
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)
    p_sluice = answers["sluice"]["probabilities"]
    for name, answer in answers.items():
        gap = max(abs(a - b) for a, b in zip(answer["probabilities"], p_sluice))
        print(f"{name} answers {answer['label']} {answer['probabilities']} (largest difference from sluice {gap:.1e})")

    def med(name, c, key):
        return statistics.median(r[key] for r in results[name][c])

    print(f"\n{title}: one row per request, wrk, {args.rounds} rounds x {args.seconds} s each, medians")
    ours = [name for name in servers if name.startswith("sluice")]
    print(f"{'server':11} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'failed':>6}" +
          "".join(f"   {name}: req/s, p99" for name in ours))
    for c in levels:
        for name in servers:
            rps, p50, p99 = med(name, c, "rps"), med(name, c, "p50"), med(name, c, "p99")
            failed = sum(r["failed"] for r in results[name][c])
            ratio = ""
            if name not in ours:  # how many times more requests/s each of ours served, how much lower its p99
                for mine in ours:
                    ratio += f"   {med(mine, c, 'rps') / rps:5.1f}x more, {p99 / med(mine, c, 'p99'):4.1f}x lower"
            print(f"{name:11} {c:>4} {rps:9.0f} {p50:8.2f} {p99:8.2f} {failed:>6}{ratio}")
    p50 = statistics.median(o[0] for o in overhead)
    forward = statistics.median(o[1] for o in overhead)
    print(f"sluice at concurrency 1: p50 {p50 * 1000:.0f} us, mean forward pass {forward * 1000:.0f} us, "
          f"per-request overhead {(p50 - forward) * 1000:.0f} us")
    for name in servers:
        print(f"resident memory, {name}: {statistics.median(memory[name]):.0f} MB (all its processes)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--concurrency", default="1,16,64")
    ap.add_argument("--models", default="table,text")
    args = ap.parse_args()
    sluice = os.path.join(args.build, "bin", "sluice")
    work = tempfile.mkdtemp(prefix="sluice-bench-serve-")
    env = dict(os.environ, SLUICE_STORE=os.path.join(work, "store"))
    peer_env = dict(os.environ, PATH=f"{VENV}/bin:" + os.environ["PATH"], PYTHONPATH=HERE, OMP_NUM_THREADS="1",
                    TOKENIZERS_PARALLELISM="false")
    levels = [int(c) for c in args.concurrency.split(",")]

    def servers(model, path, kind):
        mlflow_model = os.path.join(work, f"mlflow-{kind}")
        subprocess.run([f"{VENV}/bin/python", os.path.join(HERE, "serve_peer.py"), "save-mlflow", path, kind,
                        mlflow_model], check=True, capture_output=True, env=peer_env, cwd=work)
        ours = {"sluice": (lambda port: [sluice, "serve", model, "--port", str(port)], env)}
        if kind == "text":  # where compute dominates, the reduced precision too
            ours["sluice-bf16"] = (lambda port: [sluice, "serve", model, "--port", str(port), "--precision", "bf16"],
                                   env)
        return {
            **ours,
            "flask": (lambda port: [f"{VENV}/bin/gunicorn", "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{port}",
                                    "--log-level", "warning", f'serve_peer:flask_app("{path}", "{kind}")'], peer_env),
            "mlflow": (lambda port: [f"{VENV}/bin/mlflow", "models", "serve", "-m", mlflow_model, "--env-manager",
                                     "local", "-h", "127.0.0.1", "-p", str(port), "-w", "2"], peer_env),
        }

    def bundle(name):
        return json.loads(subprocess.run([sluice, "models", "show", name, "--json"], env=env, check=True,
                                         capture_output=True, text=True).stdout)["path"]

    if "table" in args.models:
        subprocess.run([sluice, "run", os.path.join(ROOT, "pipelines", "credit_risk.toml")], env=env, check=True,
                       capture_output=True)
        run_model("credit-risk (MLP, 20 columns)", "credit-risk", servers("credit-risk", bundle("credit-risk"),
                                                                          "table"), first_row(), levels, args, work)
    if "text" in args.models:
        # A fine-tuned all-MiniLM-L6-v2 (serving speed does not depend on how long it trained).
        subprocess.run([sluice, "run", os.path.join(ROOT, "pipelines", "reuters_grain_minilm.toml"), "--set",
                        "train.epochs=1", "--set", "data.train_examples=64"], env=env, check=True, capture_output=True)
        hf = os.path.join(work, "reuters-hf")
        subprocess.run([sluice, "models", "export", "reuters-grain-minilm", "--format", "hf", "--output", hf], env=env,
                       check=True, capture_output=True)
        run_model("reuters-grain-minilm (BERT 6x384, a 128-token story)", "reuters-grain-minilm",
                  servers("reuters-grain-minilm", hf, "text"), first_story(), levels, args, work)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
