"""Remembered md5 digests of files, so an unchanged file is hashed once.

A digest is trusted only for the same version of the same file, told the way git's index
tells it: path, size, modification time, inode change time, inode and device. Writing a
file changes its ctime even when its mtime is set back, and replacing it by another file
changes its inode, so neither passes for the file that was hashed. The cache is a JSON file;
it is a convenience, never a source of truth: a cache that cannot be read is treated as
empty. What it cannot see is bytes changed under the file system (a failing disk), or a file
system whose times or inodes are not kept; `--no-cache` hashes every file again for those.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from generator.io.files import atomic_write_text

CACHE_FILE = "md5-digests.json"
_FORMAT = 2  # 1 kept (size, mtime) only; its entries are not trusted


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "laion2b-datasets"


@dataclass(frozen=True)
class FileStamp:
    """What identifies one version of a file on disk."""

    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: Path, status: os.stat_result) -> "FileStamp":
        return cls(str(Path(path).resolve()), status.st_size, status.st_mtime_ns, status.st_ctime_ns,
                   status.st_ino, status.st_dev)

    def entry(self) -> dict:
        """The stamp as stored (the path is the entry's key)."""
        return {"size": self.size, "mtime_ns": self.mtime_ns, "ctime_ns": self.ctime_ns, "inode": self.inode,
                "device": self.device}


class DigestCache:
    """A thread-safe map FileStamp -> md5, loaded from and saved to `folder/md5-digests.json`."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / CACHE_FILE
        self._lock = threading.Lock()
        self._entries: dict[str, dict] = _load_entries(self.path)
        self._changed = False

    def get(self, stamp: FileStamp) -> str | None:
        with self._lock:
            entry = self._entries.get(stamp.path)
        if entry and all(entry.get(key) == value for key, value in stamp.entry().items()):
            return entry.get("md5")
        return None

    def put(self, stamp: FileStamp, md5: str) -> None:
        with self._lock:
            self._entries[stamp.path] = {**stamp.entry(), "md5": md5}
            self._changed = True

    def save(self) -> None:
        """Writes the cache if anything was added (atomically: a crash never leaves half a file)."""
        with self._lock:
            if not self._changed:
                return
            text = json.dumps({"format": _FORMAT, "files": self._entries}, indent=1, sort_keys=True)
            self._changed = False
        atomic_write_text(self.path, text + "\n")


def _load_entries(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("files"), dict):
        return {}
    return {name: entry for name, entry in data["files"].items() if isinstance(entry, dict)}
