"""Executors that follow the cluster (docs/design/pipeline.md#scheduling-on-dask): a stage waits for
a first worker, or fails naming the scheduler; a worker that joins mid-stage takes tasks (the
scheduler's log says which worker ran each); each worker's BLAS threads follow the worker threads
of its host; the files are the bytes of an in-process run."""
from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from dask.system import CPU_COUNT
from distributed import Client, LocalCluster, SchedulerPlugin, WorkerPlugin

from generator.io.checksums import file_md5
from generator.pipeline import stages
from generator.pipeline.blas import blas_threads
from generator.pipeline.schedule import OnDask, Scheduler, Task
from generator.release.recall import RECALL_FILE
from tests.conftest import ROOT, bundle_name, write_tiny


def make(out: Path, parts: Path, release: Path, *goals: str, **variables: str) -> subprocess.CompletedProcess:
    command = ["make", "-C", str(ROOT), *goals, f"PARTS={parts}", f"OUT={out}", f"RELEASE={release}",
               *(f"{name}={value}" for name, value in variables.items())]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def digests(out: Path) -> dict[str, str]:
    """md5 of every artifact but the recall table (it holds measured times)."""
    return {path.name: file_md5(path) for path in out.iterdir() if path.is_file() and path.name != RECALL_FILE}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Tiny parts and one in-process run of the stages these tests put on a cluster (the gold
    standards) and of those they need (subsets, queries). The whole pipeline on Dask is
    compared with an in-process run in tests/test_pipeline_run.py."""
    root = tmp_path_factory.mktemp("cluster")
    release, release_path, parts = write_tiny(root)
    run = make(root / "out", parts, release_path, "gold")
    assert run.returncode == 0, run.stderr
    return release, release_path, parts, root / "out"


def empty_cluster() -> LocalCluster:
    """A scheduler on 127.0.0.1 with no worker yet, as an adaptive cluster starts."""
    return LocalCluster(n_workers=0, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)


def test_workers_that_come_5_s_late_run_the_gold_stage_to_the_same_bytes(reference, tmp_path):
    """The stages that run in this process (subsets, queries) first, so that the stage on Dask
    starts before the workers come."""
    _, release_path, parts, out = reference
    ahead = make(tmp_path / "out", parts, release_path, "subsets", "queries")
    assert ahead.returncode == 0, ahead.stderr
    with empty_cluster() as cluster:
        late = threading.Timer(5, cluster.scale, (2,))
        late.start()
        try:
            run = make(tmp_path / "out", parts, release_path, "gold", SCHEDULER=cluster.scheduler_address)
        finally:
            late.cancel()
        assert run.returncode == 0, run.stderr
        assert "no worker has joined the scheduler at" in run.stderr and "Traceback" not in run.stderr
    assert digests(tmp_path / "out") == digests(out)


def test_no_worker_within_the_timeout_is_one_error_line_naming_the_scheduler(reference, tmp_path):
    release, release_path, parts, _ = reference
    with empty_cluster() as cluster:
        started = time.monotonic()
        run = make(tmp_path / "out", parts, release_path, "pca", SCHEDULER=cluster.scheduler_address,
                   DASK_WORKER_TIMEOUT="2")
        waited = time.monotonic() - started
    address = cluster.scheduler_address
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: no Dask worker joined the scheduler at {address} within 2 s: start workers (`dask "
                      f"worker {address}`, seeing --parts and --out under the same paths) or wait longer "
                      "(--worker-timeout, make DASK_WORKER_TIMEOUT=seconds)"], run.stderr
    assert "Traceback" not in run.stderr and waited < 120
    assert not (tmp_path / "out" / release.pca_model_file()).exists()


class Ran(SchedulerPlugin):
    """The scheduler's log of finished tasks: (key, worker that ran it)."""

    name = "ran"

    def __init__(self):
        self.log: list[tuple[str, str]] = []

    def transition(self, key, start, finish, *args, **kwargs):
        if start == "processing" and finish == "memory":
            self.log.append((str(key), kwargs.get("worker")))


class Slow(WorkerPlugin):
    """Every task a worker starts takes 0.2 s more: the stage outlasts a worker's start."""

    name = "slow"

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing":
            time.sleep(0.2)


def test_a_worker_that_joins_mid_gold_takes_tasks_and_changes_no_result(reference, tmp_path, monkeypatch):
    release, _, _, out = reference
    queries = release.query_labels[0]
    for label in ("P2", queries):
        shutil.copy(out / bundle_name(release, "clip768", label), tmp_path)
    monkeypatch.setattr(stages, "GOLD_BLOCK_ROWS", 200)
    monkeypatch.setattr(stages, "GOLD_QUERY_ROWS", 40)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(1)
        client.register_plugin(Slow())
        first = set(cluster.scheduler.workers)
        ran = Ran()
        cluster.scheduler.add_plugin(ran)
        failed = []

        def gold() -> None:
            try:
                stages.write_gold(stages.Run(release, tmp_path, tmp_path, scheduler=Scheduler(
                    cluster.scheduler_address)), f"P2/{queries}")
            except Exception as error:  # reported below, in the test's thread
                failed.append(error)
        stage = threading.Thread(target=gold)
        stage.start()
        deadline = time.monotonic() + 60
        while not ran.log and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ran.log, "no task finished within 60 s"
        cluster.scale(2)
        stage.join(timeout=600)
        assert not stage.is_alive() and not failed, failed
        joined = {worker for _, worker in ran.log} - first
    assert len(joined) == 1, ran.log
    names = [bundle_name(release, kind, "P2") for kind in ("gold", "gold-f64")]
    assert {name: file_md5(tmp_path / name) for name in names} == {name: file_md5(out / name) for name in names}


@pytest.mark.parametrize("workers", [1, 2])
def test_each_worker_sets_its_blas_threads_from_the_threads_on_its_host(workers):
    """Workers of one thread on this host: each task's BLAS gets the cores shared among them (at
    least one), whatever Dask set in the workers' environment (one thread)."""
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        executor = OnDask(client)
        seen = list(executor.map([Task(blas_threads, (), f"task {n}", 1) for n in range(4)], "threads"))
    assert seen == [max(1, CPU_COUNT // workers)] * 4
