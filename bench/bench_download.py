"""Throughput of `laion2b download` (verification included) against curl (no check), from a
loopback server, in the same run.

Writes FILES x GIB GiB of random bytes in a temporary folder (removed afterwards), with the
manifests `make manifests` would write for them, and serves them on 127.0.0.1 from a separate
process that answers with sendfile (zero-copy), so that the server is not what limits either
side. Then, best of REPEATS with the sides taking turns, each into an emptied folder:
- `laion2b download NAMES`: hashes while the bytes arrive and checks size and md5 at the end;
- `curl -o` of every URL, no check at all (the reference);
- `curl` then `md5sum -c`: the download-then-read-again way, for scale.
Prints the ratio of wall-clock throughput (> 1: ours is faster) next to the target, and
the CPU seconds of each side (process and children), which other processes on the machine
distort less than wall time.

    .venv/bin/python bench/bench_download.py [--files 4] [--gib 1] [--repeats 3]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

import numpy as np

from generator.manifests.write import manifest_texts

GIB = 1024**3
TARGET = 0.9
CHUNK = 64 * 1024**2


class _SendfileHandler(SimpleHTTPRequestHandler):
    """Serves a folder, the body by sendfile(2): the kernel copies the page cache to the socket."""

    def copyfile(self, source: BinaryIO, outputfile: object) -> None:  # type: ignore[override]
        self.connection.sendfile(source)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the benchmark prints its own figures."""


def serve(folder: Path, port: int) -> None:
    """The server process: serves `folder` on 127.0.0.1:`port` until killed."""
    handler = lambda *args: _SendfileHandler(*args, directory=str(folder))
    ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()


def write_random_files(folder: Path, count: int, size: int) -> dict[str, tuple[int, str]]:
    """{name: (size, md5)} of `count` files of random bytes written into `folder`."""
    rng = np.random.default_rng(20240602)
    written = {}
    for index in range(count):
        name = f"laion2B-en-bench-{index}.h5"
        digest = hashlib.md5()
        with open(folder / name, "wb") as out:
            for start in range(0, size, CHUNK):
                chunk = rng.bytes(min(CHUNK, size - start))
                out.write(chunk)
                digest.update(chunk)
        written[name] = (size, digest.hexdigest())
    return written


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the bench server on port {port} did not start")


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def best_times(actions: dict[str, Callable[[], None]], reset: Callable[[], None],
               repeats: int) -> dict[str, tuple[float, float]]:
    """For each action, its best (wall, CPU) seconds; the actions take turns, so that a busy spell
    of the machine hits each of them alike, and `reset` empties the target folder before each."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            reset()
            cpu, started = _cpu_seconds(), time.perf_counter()
            action()
            runs[name].append((time.perf_counter() - started, _cpu_seconds() - cpu))
    return {name: min(times) for name, times in runs.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]))
        return 0
    size = int(args.gib * GIB)
    print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"bench_download: {args.files} x {size / GIB:g} GiB from a loopback server (sendfile), best of "
          f"{args.repeats}; {shutil.which('curl')}, {shutil.which('laion2b') or sys.executable + ' -m generator'}")
    with tempfile.TemporaryDirectory(prefix="bench-download-") as scratch:
        served, data, target = (Path(scratch) / name for name in ("served", "data", "target"))
        for folder in (served, data, target):
            folder.mkdir()
        files = write_random_files(served, args.files, size)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        for filename, text in manifest_texts([(n, s, m, base_url) for n, (s, m) in files.items()]).items():
            (data / filename).write_text(text)
        md5_lines = "".join(f"{md5}  {name}\n" for name, (_, md5) in files.items())
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(served), str(port)])
        try:
            wait_for(port)
            names = list(files)
            urls = [f"{base_url}/{name}" for name in names]

            def ours() -> None:
                subprocess.run([sys.executable, "-m", "generator", "download", *names, "--dir", str(target),
                                "--data", str(data), "--cache-dir", str(Path(scratch) / "cache")],
                               check=True, stdout=subprocess.DEVNULL)

            def curl() -> None:
                outputs = [arg for name, url in zip(names, urls) for arg in ("-o", str(target / name), url)]
                subprocess.run(["curl", "-sS", "--fail", *outputs], check=True)

            def curl_then_md5sum() -> None:
                curl()
                subprocess.run(["md5sum", "--quiet", "-c", "-"], input=md5_lines, text=True, cwd=target,
                               check=True)

            def reset() -> None:
                shutil.rmtree(target)
                target.mkdir()

            times = best_times({"ours": ours, "curl": curl, "curl + md5sum": curl_then_md5sum}, reset,
                               args.repeats)
            reset()
            ours()
            check = subprocess.run(["md5sum", "--quiet", "-c", "-"], input=md5_lines, text=True, cwd=target,
                                   check=False)
            if check.returncode:
                raise SystemExit("the downloaded files differ from the served ones: the benchmark is void")
        finally:
            server.kill()
            server.wait()
    total = args.files * size / 1024**2
    reference = times["curl"][0]
    print(f"{'side':16} {'wall s':>7} {'MiB/s':>7} {'CPU s':>7} {'vs curl':>8}")
    for name, (wall, cpu) in times.items():
        print(f"{name:16} {wall:7.2f} {total / wall:7.0f} {cpu:7.2f} {reference / wall:7.2f}x")
    ratio = reference / times["ours"][0]
    print(f"laion2b download (verified) vs curl (unchecked): {ratio:.2f}x, target >= {TARGET:g}x: "
          f"{'ok' if ratio >= TARGET else 'MISSED'}")
    load = os.getloadavg()[0]
    print(f"load average after the run: {load:.1f} on {os.cpu_count()} cores"
          + (" (other processes competed for the cores: wall times are noisy)" if load > (os.cpu_count() or 1)
             else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
