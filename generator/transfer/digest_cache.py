"""Remembered md5 digests of files, keyed by (path, size, mtime), so an unchanged file is hashed once.

The cache is a JSON file; it is a convenience, never a source of truth: a cache
that cannot be read is treated as empty, and any change of size or modification
time makes the remembered digest invalid.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from generator.io.files import atomic_write_text

CACHE_FILE = "md5-digests.json"
_FORMAT = 1


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "laion2b-datasets"


@dataclass(frozen=True)
class FileStamp:
    """What identifies one version of a file on disk."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path, status: os.stat_result) -> "FileStamp":
        return cls(str(Path(path).resolve()), status.st_size, status.st_mtime_ns)


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
        if entry and entry.get("size") == stamp.size and entry.get("mtime_ns") == stamp.mtime_ns:
            return entry.get("md5")
        return None

    def put(self, stamp: FileStamp, md5: str) -> None:
        with self._lock:
            self._entries[stamp.path] = {"size": stamp.size, "mtime_ns": stamp.mtime_ns, "md5": md5}
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
