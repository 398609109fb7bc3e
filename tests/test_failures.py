"""Failures classified (docs/design/failures.md#retries): an error of the data or the
definition stops a stage at once, in this process and on Dask (where the scheduler's log shows
the task ran once); a transient I/O error runs the task again; a full disk ends as one error line
with nothing under a final name."""
from __future__ import annotations

import errno
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster

from generator.pipeline.parts import check_parts, parquet_path
from generator.pipeline.schedule import RETRIES, InProcess, OnDask, Task, TaskError
from tests.conftest import ROOT, bundle_name, write_tiny


@pytest.fixture(scope="module")
def tiny_parts(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("failures"))


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as local, Client(local) as client:
        client.wait_for_workers(2)
        yield local, client


def runs_of(cluster: LocalCluster, prefix: str) -> int:
    """How many times the scheduler handed a task whose key starts with `prefix` to a worker."""
    return sum(1 for key, _start, finish, *_ in cluster.scheduler.transition_log
               if str(key).startswith(prefix) and finish == "processing")


def nsfw_of_integers(parts: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "parts"
    shutil.copytree(parts, copy)
    path = parquet_path(copy, 5)
    table = pq.read_table(path)
    column = pa.array(np.zeros(table.num_rows, dtype=np.int64))
    pq.write_table(table.set_column(table.schema.get_field_index("NSFW"), "NSFW", column), path)
    return copy


@pytest.mark.parametrize("where", ["in-process", "dask"])
def test_a_part_with_an_nsfw_column_of_integers_fails_its_task_once_by_name(tiny_parts, cluster, tmp_path, where):
    _, _, parts = tiny_parts
    copy = nsfw_of_integers(parts, tmp_path)
    executor = InProcess() if where == "in-process" else OnDask(cluster[1])
    before = runs_of(cluster[0], "check_parts")
    with pytest.raises(TaskError) as error:
        list(executor.map([Task(check_parts, (copy, [4, 5]), "checking parts 4 and 5", 2)], "checking"))
    assert str(error.value) == (f"checking parts 4 and 5: {parquet_path(copy, 5)}: has an 'NSFW' column of int64, "
                                "not text (UNLIKELY, UNSURE, NSFW or empty)")
    assert runs_of(cluster[0], "check_parts") - before == (1 if where == "dask" else 0)


def fails_once(marker: Path, code: int) -> str:
    """Raises OSError(code) the first time (while `marker` is absent), then returns 'done'."""
    if not marker.exists():
        marker.touch()
        raise OSError(code, "simulated", str(marker))
    return "done"


def fails_always(marker: Path, code: int) -> str:
    """Raises OSError(code) every time, counting the runs in `marker`."""
    with open(marker, "a") as stream:
        stream.write("x")
    raise OSError(code, "simulated", str(marker))


@pytest.mark.parametrize("where", ["in-process", "dask"])
def test_a_transient_read_error_runs_the_task_again(cluster, tmp_path, where):
    executor = InProcess() if where == "in-process" else OnDask(cluster[1])
    task = Task(fails_once, (tmp_path / "failed-once", errno.EIO), "reading", 1)
    assert list(executor.map([task], "reading")) == ["done"]


@pytest.mark.parametrize("where", ["in-process", "dask"])
@pytest.mark.parametrize("code, runs, words", [
    (errno.EIO, 1 + RETRIES, f"failed {1 + RETRIES} times: OSError: {{marker}}: Input/output error"),
    (errno.EACCES, 1, "PermissionError: {marker}: Permission denied")])
def test_an_io_error_fails_after_its_retries_or_at_once(cluster, tmp_path, where, code, runs, words):
    executor = InProcess() if where == "in-process" else OnDask(cluster[1])
    marker = tmp_path / "runs"
    with pytest.raises(TaskError) as error:
        list(executor.map([Task(fails_always, (marker, code), "reading", 1)], "reading"))
    expected = re.escape(f"reading: {words.format(marker=marker)} (at test_failures.py:") + r"\d+ in fails_always\)"
    assert re.fullmatch(expected, str(error.value)), str(error.value)
    assert marker.read_text() == "x" * runs


def _can_mount_a_small_disk() -> bool:
    """Whether this user may mount a tmpfs in a mount namespace of its own (gone when it ends)."""
    if shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory() as folder:
        return subprocess.run(["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", folder],
                              capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_mount_a_small_disk(), reason="needs `unshare -rm` and a tmpfs mount (a private mount "
                                                          "namespace) to give the stage a full disk")
def test_a_full_disk_is_one_error_line_and_leaves_no_final_file(tiny_parts, tmp_path):
    """The subset stage writes onto a 1 MiB file system (a tmpfs in a private mount namespace) a
    file of 2 MiB: the write meets ENOSPC."""
    release, release_path, parts = tiny_parts
    out = tmp_path / "out"
    out.mkdir()
    script = (f"mount -t tmpfs -o size=1m tmpfs {shlex(out)} && cd {shlex(ROOT)} && "
              f"{shlex(sys.executable)} -m generator pipeline --release {shlex(release_path)} --parts {shlex(parts)} "
              f"--out {shlex(out)} subset P2; status=$?; echo; ls -A {shlex(out)}; exit $status")
    run = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True)
    final = out / bundle_name(release, "clip768", "P2")
    assert run.returncode == 1
    assert run.stderr == f"error: {final}: cannot be written: No space left on device; nothing is left under its name\n"
    assert run.stdout.split() == [".checked-parts"]  # the parts found good are remembered; no output, no temporary


def shlex(path) -> str:
    import shlex as quoting
    return quoting.quote(str(path))
