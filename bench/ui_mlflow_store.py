"""The runs of a Sluice store logged into an MLflow tracking store, through MLflow's own
client (MlflowClient.create_run, log_batch, set_terminated), for bench/ui_mlflow.py: the
same runs, parameters and metric series (every point, with its step and time), one MLflow
experiment, each run named by its Sluice id.

  /var/tmp/sluice-mlflow/bin/python bench/ui_mlflow_store.py SLUICE_STORE_DIR MLFLOW_DB
"""
import json
import logging
import sqlite3
import sys
import time

from mlflow.entities import Metric, Param, RunStatus
from mlflow.tracking import MlflowClient

BATCH = 1000  # MLflow's most metrics per log_batch


def main():
    source, target = sys.argv[1], sys.argv[2]
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    src = sqlite3.connect(f"{source}/runs.db")
    client = MlflowClient(tracking_uri="sqlite:///" + target)
    experiment = client.create_experiment("scale")
    runs = src.execute("SELECT id, status, started_at, ended_at FROM runs ORDER BY started_at").fetchall()
    t0 = time.time()
    status_of = {"succeeded": RunStatus.FINISHED, "failed": RunStatus.FAILED}

    def ms(iso):
        return int(time.mktime(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 - time.timezone * 1000)

    for n, (rid, status, started, ended) in enumerate(runs):
        run = client.create_run(experiment, start_time=ms(started), tags={"mlflow.runName": rid})
        uuid = run.info.run_id
        params = [Param(k, str(json.loads(v))) for k, v in src.execute("SELECT key, value FROM params WHERE run_id = ?", (rid,))]
        client.log_batch(uuid, params=params)
        points = src.execute(
            "SELECT s.key, p.value, p.logged_at, p.step FROM metric_series s JOIN metric_points p ON p.series_id = s.id "
            "WHERE s.run_id = ? ORDER BY s.key, p.step", (rid,)).fetchall()
        metrics = [Metric(k, v if v is not None else float("nan"), int(t * 1000), step) for k, v, t, step in points]
        for i in range(0, len(metrics), BATCH):
            client.log_batch(uuid, metrics=metrics[i:i + BATCH])
        client.set_terminated(uuid, RunStatus.to_string(status_of.get(status, RunStatus.FAILED)), end_time=ms(ended) if ended else None)
        if (n + 1) % 100 == 0:
            print(f"{n + 1} runs logged into MLflow, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    print(json.dumps({"runs": len(runs), "experiment": experiment, "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
