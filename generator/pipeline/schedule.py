"""Where the heavy stages' tasks run (docs/design/pipeline.md#scheduling-on-dask): in this process, or on a Dask
cluster, with the same results byte for byte.

A stage cuts its work into `Task`s on a fixed grid of row ranges (`row_ranges`). A task is a
function of picklable arguments (the run's settings, a label, row ranges, small records) that
opens its own files and returns arrays; no task holds an open file, and no task writes an
output: the stage writes every output file itself, from this process. Two executors serve
the same small interface:

- `map(tasks, what)` yields the tasks' results in task order;
- `reduce(groups, merge, what)` merges the results of each group of tasks along one binary
  tree fixed by the group's size (`tree_reduce`) and returns a handle per group, which
  later tasks may take as an argument and `value(handle, what)` reads.

`InProcess` runs the tasks one after another here, each kernel spreading its work over the
BLAS threads. `OnDask` submits them to a `dask.distributed` scheduler: a LocalCluster started
here (`local`) or a running one (`tcp://host:port`). The grid and the tree depend on row
counts alone, never on the executor, the workers or the order tasks finish in, so even a
merge that rounds (the sums of the PCA covariance) gives the same bits both ways.

Dask is imported only here and only when a scheduler is asked for: the package works
without the `dask` extra.
"""
from __future__ import annotations

import errno
import logging
import os
import re
import subprocess
import time
import traceback
import uuid
from collections import Counter, deque
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeGuard, TypeVar

from tqdm import tqdm

from generator.errors import ProjectError, os_error_message
from generator.pipeline.blas import set_blas_threads

Value = TypeVar("Value")

log = logging.getLogger(__name__)

LOCAL = "local"
ADDRESS = re.compile(r"tcp://[^\s/]+:\d+")
RETRIES = 2  # more runs of a task that met a transient error (a passing read error of a network file system)
RETRY_DELAY = 1.0  # seconds before the first of them, doubled for the next
# The OSErrors another run of the same task may not meet: a network file system's passing
# failures. Any other error comes from the data, the definition or the code, and comes back on
# every run: it stops the stage at once (docs/design/failures.md#retries).
TRANSIENT = frozenset({errno.EIO, errno.ESTALE, errno.ETIMEDOUT, errno.ECONNRESET, errno.ECONNABORTED,
                       errno.EAGAIN, errno.EINTR, errno.EBUSY})
EXTRA = "pip install -e '.[dask]'"
# Seconds a stage waits for a first worker (an adaptive or batch-queue cluster starts with none).
WORKER_TIMEOUT = 600.0


class TaskError(ProjectError):
    """A task failed: the message names the stage, the subset and the rows (a plain message,
    so that it travels back from a worker whole)."""


@dataclass(frozen=True)
class Scheduler:
    """Where the tasks run: `address` None (this process), `local` (a LocalCluster here of
    `workers` processes of `threads` threads each; None leaves the split of the cores to
    Dask) or the address of a running scheduler (tcp://host:port). A stage on Dask waits up
    to `worker_timeout` seconds for a first worker."""

    address: str | None = None
    workers: int | None = None
    threads: int | None = None
    worker_timeout: float = WORKER_TIMEOUT


@dataclass(frozen=True)
class Task:
    """One piece of a stage's work: `function(*args)`, named by `what` in progress and
    errors, and worth `rows` rows of the progress bar."""

    function: Callable[..., Any]
    args: tuple[Any, ...]
    what: str
    rows: float


def scheduler_address(text: str) -> str:
    """`local` or a scheduler's address, as --scheduler takes it; anything else is a ValueError."""
    if text != LOCAL and not ADDRESS.fullmatch(text):
        raise ValueError(f"'{text}' is neither 'local' nor a Dask scheduler's address tcp://host:port")
    return text


def row_ranges(rows: int, block_rows: int) -> list[tuple[int, int]]:
    """The fixed grid of a stage: (start, stop) blocks of `block_rows` rows covering 0..rows.

    Example: row_ranges(5, 2) == [(0, 2), (2, 4), (4, 5)].
    """
    return [(start, min(start + block_rows, rows)) for start in range(0, rows, block_rows)]


def tree_reduce(merge: Callable[[Value, Value], Value], values: Iterable[Value]) -> Value:
    """The values merged along one binary tree fixed by their number, whatever merges them.

    Each value is merged with its neighbour as soon as both halves of a subtree are in, so
    that at most log2(n) + 1 partial results are held while values stream in: a tree whose
    left subtrees are the largest powers of two. A merge that rounds (float sums) therefore
    gives the same bits for the same values, here or on a cluster.

    Parameters: merge(left, right), values in order (at least one). Returns the merged value.
    Example: tree_reduce(lambda a, b: f"({a}{b})", "abcde") == "(((ab)(cd))e)".
    """
    stack: list[tuple[int, Value]] = []  # (leaves in the subtree, its merged value)
    for value in values:
        size = 1
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            value, size = merge(left, value), left_size + size
        stack.append((size, value))
    if not stack:
        raise ValueError("tree_reduce needs at least one value")
    _, value = stack.pop()
    while stack:
        value = merge(stack.pop()[1], value)
    return value


def progress(total: float | None, what: str) -> tqdm[Any]:
    """Rows done, rate and ETA on a terminal; silent otherwise."""
    return tqdm(total=total, desc=what, unit=" rows", unit_scale=True, disable=None, leave=False)


def transient(error: BaseException) -> TypeGuard[OSError]:
    """Whether another run of the task may not meet `error` (an OSError in TRANSIENT)."""
    return isinstance(error, OSError) and error.errno in TRANSIENT


def _call(function: Callable[..., Any], args: tuple[Any, ...], what: str,
          threads_per_host: dict[str, int] | None = None) -> Any:
    """function(*args), run here or on a Dask worker (given the worker threads of each host);
    every failure becomes a TaskError of one line naming the task.

    A transient error (`transient`) runs the function again, at most RETRIES more times; any
    other error (the project's own, a ValueError of a parser, a full disk) fails at once: it
    would come back on every run. On a worker, the task first sets the worker's BLAS threads
    (`_limit_worker_blas`).
    """
    if threads_per_host is not None:
        _limit_worker_blas(threads_per_host)
    for retry in range(RETRIES + 1):
        try:
            return function(*args)
        except TaskError:
            raise
        except ProjectError as error:
            raise TaskError(f"{what}: {error}") from None
        except Exception as error:
            if transient(error) and retry < RETRIES:
                log.warning("%s: %s; running it again (%d of %d)", what, os_error_message(error), retry + 1, RETRIES)
                time.sleep(RETRY_DELAY * 2 ** retry)
                continue
            runs = f"failed {RETRIES + 1} times: " if transient(error) else ""
            raise TaskError(f"{what}: {runs}{_described(error)}") from None
    raise AssertionError("unreachable: the last run returns or raises")


def _described(error: Exception) -> str:
    """An unforeseen error in one line: its type, its words and where it was raised."""
    if isinstance(error, OSError):
        words = os_error_message(error)
    else:
        words = (str(error).splitlines() or [""])[0]
    return f"{type(error).__name__}: {words}{_where(error)}"


def _limit_worker_blas(threads_per_host: dict[str, int]) -> None:
    """BLAS threads of this worker process: the cores of its host shared out among the worker
    threads on it (as the scheduler counted them when the task was submitted), so that Dask
    threads x BLAS threads never exceed the cores; a worker its task's count does not know yet
    (it joined after the submission) counts its own threads. Set through blas.set_blas_threads,
    which changes nothing when the number is the same and never lifts the one-thread limit of a
    kernel running on another thread of the worker."""
    from dask.system import CPU_COUNT
    from distributed import get_worker
    from distributed.comm.addressing import get_address_host

    worker = get_worker()
    threads = threads_per_host.get(get_address_host(worker.address), worker.state.nthreads)
    set_blas_threads(max(1, CPU_COUNT // max(1, threads)))


class InProcess:
    """Tasks run one after another in this process."""

    threads = 1  # tasks running at once (each kernel spreads its own work over the BLAS threads)

    def map(self, tasks: Sequence[Task], what: str) -> Iterator[Any]:
        with progress(sum(task.rows for task in tasks), what) as bar:
            for task in tasks:
                result = _call(task.function, task.args, task.what)
                bar.update(task.rows)
                yield result

    def reduce(self, groups: Sequence[Sequence[Task]], merge: Callable[..., Any], what: str) -> list[Any]:
        with progress(sum(task.rows for group in groups for task in group), what) as bar:
            return [tree_reduce(partial(_merged_here, merge, what), self._results(group, bar)) for group in groups]

    def value(self, handle: Any, what: str) -> Any:
        return handle

    @staticmethod
    def _results(tasks: Sequence[Task], bar: tqdm[Any]) -> Iterator[Any]:
        for task in tasks:
            yield _call(task.function, task.args, task.what)
            bar.update(task.rows)


def _merged_here(merge: Callable[..., Any], what: str, left: Any, right: Any) -> Any:
    return _call(merge, (left, right), f"{what}: merging results")


class OnDask:
    """Tasks submitted to a Dask scheduler through `client`; results come back to this process
    only where the stage writes them (map) or reads them (value). The workers are counted
    anew for every batch of tasks submitted (`threads`, `threads_per_host`): workers come and
    go on an adaptive or batch-queue cluster, and one that joins mid-stage takes tasks still
    queued on the scheduler."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def threads_per_host(self) -> dict[str, int]:
        """Worker threads of each host, as the scheduler knows them now."""
        threads: Counter[str] = Counter()
        for worker in self.client.scheduler_info(n_workers=-1)["workers"].values():
            threads[worker["host"]] += worker["nthreads"]
        return dict(threads)

    @property
    def threads(self) -> int:
        """Worker threads of the cluster now (tasks that can run at once)."""
        return sum(self.threads_per_host().values())

    def describe(self, what: str) -> str:
        info = self.client.scheduler_info(n_workers=-1)
        workers = info["workers"].values()
        dashboard = info.get("services", {}).get("dashboard")
        return (f"{what}: on Dask at {self.client.scheduler.address}, {len(workers)} worker(s), "
                f"{sum(worker['nthreads'] for worker in workers)} thread(s) now"
                + (f"; dashboard {self.client.dashboard_link}" if dashboard else ""))

    def map(self, tasks: Sequence[Task], what: str) -> Iterator[Any]:
        """Results in task order, with at most two tasks per worker thread submitted and not yet
        taken: the results of a whole subset never wait in memory for the writer."""
        hosts = self.threads_per_host()
        window = max(2, 2 * sum(hosts.values()))
        pending: deque[tuple[Task, Any]] = deque()
        with progress(sum(task.rows for task in tasks), what) as bar:
            for task in tasks:
                pending.append((task, self._submit(task.function, task.args, task.what, hosts)))
                if len(pending) >= window:
                    yield self._taken(*pending.popleft(), bar)
            while pending:
                yield self._taken(*pending.popleft(), bar)

    def reduce(self, groups: Sequence[Sequence[Task]], merge: Callable[..., Any], what: str) -> list[Any]:
        """Every task submitted at once (Dask queues them on the scheduler and hands each worker
        thread one at a time), the tree of merges with them; returns when every task is done,
        the last merges may still run. A task's result is dropped once merged."""
        from distributed import as_completed

        tasks: dict[str, Task] = {}
        roots: list[Any] = []
        done = as_completed(loop=self.client.loop)
        hosts = self.threads_per_host()
        for group in groups:
            futures = [self._submit(task.function, task.args, task.what, hosts) for task in group]
            roots.append(tree_reduce(partial(self._merge, merge, what, hosts), futures))
            tasks.update((future.key, task) for future, task in zip(futures, group))
            done.update(futures)
        del futures  # from here on, only the merges hold the tasks' results
        with progress(sum(task.rows for task in tasks.values()), what) as bar:
            for future in done:
                task = tasks[future.key]
                if future.status != "finished":
                    self._result(future, task.what)
                bar.update(task.rows)
        return roots

    def value(self, handle: Any, what: str) -> Any:
        return self._result(handle, f"{what}: merging results")

    def _submit(self, function: Callable[..., Any], args: tuple[Any, ...], what: str, hosts: dict[str, int]) -> Any:
        from dask.utils import funcname

        # No retries of Dask's own: _call runs a task again only after a transient error; a worker
        # lost mid-task has its tasks rerun by the scheduler (distributed.scheduler.allowed-failures).
        return self.client.submit(_call, function, args, what, hosts, pure=False, retries=0,
                                  key=f"{funcname(function)}-{uuid.uuid4().hex}")

    def _merge(self, merge: Callable[[Any, Any], Any], what: str, hosts: dict[str, int], left: Any, right: Any) -> Any:
        return self._submit(merge, (left, right), f"{what}: merging results", hosts)

    def _taken(self, task: Task, future: Any, bar: tqdm[Any]) -> Any:
        result = self._result(future, task.what)
        bar.update(task.rows)
        return result

    @staticmethod
    def _result(future: Any, what: str) -> Any:
        """The future's result; a failed task ends the run with one message naming it."""
        from distributed import KilledWorker

        try:
            return future.result()
        except TaskError:
            raise
        except KilledWorker as error:
            raise TaskError(f"{what}: the Dask worker running it died {error.allowed_failures + 1} time(s) (more "
                            "than the scheduler's distributed.scheduler.allowed-failures); the workers' logs say "
                            "why (out of memory?)") from None
        except Exception as error:  # Dask's own failures (a result that cannot be unpickled, say): one line
            raise TaskError(f"{what}: failed on Dask: {_described(error)}") from None


def _where(error: BaseException) -> str:
    """ ' (at file:line in function)' of the innermost frame of a task's exception, if any."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at {os.path.basename(frame.filename)}:{frame.lineno} in {frame.name})"


def _distributed(address: str) -> Any:
    try:
        import distributed
    except ImportError:
        raise ProjectError(f"--scheduler {address} (SCHEDULER={address}) needs Dask, which is not installed: "
                           f"install the project's 'dask' extra with `{EXTRA}` in its folder (make does it itself "
                           "when SCHEDULER is set)") from None
    # Dask logs every client and worker coming and going at INFO: the stages' own lines say enough.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    return distributed


@contextmanager
def local_cluster(workers: int | None, threads: int | None) -> Iterator[Any]:
    """A LocalCluster of worker processes on this machine, its scheduler and dashboard on
    127.0.0.1 (the dashboard on a free port). The workers inherit this process's
    environment (OPENBLAS_CORETYPE included)."""
    distributed = _distributed(LOCAL)
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                  silence_logs=logging.WARNING) as cluster:
        yield cluster


@contextmanager
def open_executor(scheduler: Scheduler, what: str) -> Iterator[InProcess | OnDask]:
    """The executor of a stage: in this process, or on the scheduler asked for (a LocalCluster
    started for this stage alone when `local`), closed when the stage ends."""
    if scheduler.address is None:
        yield InProcess()
        return
    distributed = _distributed(scheduler.address)
    with ExitStack() as stack:
        address = scheduler.address
        if address == LOCAL:
            address = stack.enter_context(local_cluster(scheduler.workers, scheduler.threads)).scheduler_address
        try:
            client = stack.enter_context(distributed.Client(address, set_as_default=False))
        except (OSError, TimeoutError) as error:
            raise ProjectError(f"cannot reach the Dask scheduler at {address}: {error}") from None
        _wait_for_a_worker(client, address, scheduler.worker_timeout, what)
        on_dask = OnDask(client)
        log.info("%s", on_dask.describe(what))
        yield on_dask


def _wait_for_a_worker(client: Any, address: str, timeout: float, what: str) -> None:
    """Returns once the scheduler has a worker; a ProjectError naming it after `timeout` seconds
    without one (docs/design/pipeline.md#scheduling-on-dask)."""
    if client.scheduler_info(n_workers=1)["workers"]:
        return
    log.warning("%s: no worker has joined the scheduler at %s yet: waiting up to %g s for one", what, address,
                timeout)
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise ProjectError(f"no Dask worker joined the scheduler at {address} within {timeout:g} s: start workers "
                           f"(`dask worker {address}`, seeing --parts and --out under the same paths) or wait "
                           "longer (--worker-timeout, make DASK_WORKER_TIMEOUT=seconds)") from None


def run_in_local_cluster(workers: int | None, threads: int | None, command: list[str]) -> int:
    """Runs `command` while a LocalCluster runs here, with DASK_SCHEDULER_ADDRESS set to its
    address (Dask's own variable: a Client made without an address connects there); returns
    the command's exit status. What `make … SCHEDULER=local` runs: one cluster serves every
    stage of the make run. The command gets this process's environment as it was before the
    cluster started: Dask sets single-thread BLAS variables here for the workers it spawns."""
    environment = dict(os.environ)
    with local_cluster(workers, threads) as cluster:
        started = list(cluster.scheduler_info["workers"].values())
        log.info("Dask LocalCluster at %s: %d worker(s), %d thread(s); dashboard %s", cluster.scheduler_address,
                 len(started), sum(worker["nthreads"] for worker in started), cluster.dashboard_link)
        # close_fds=False: a make run inside keeps the job slots (file descriptors) of the make outside.
        return subprocess.run(command, env=dict(environment, DASK_SCHEDULER_ADDRESS=cluster.scheduler_address),
                              close_fds=False).returncode
