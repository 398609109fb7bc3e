"""Remembered md5 digests of files, so an unchanged file is hashed once.

A digest is trusted only for the same version of the same file, as a `FileStamp` tells it
(path, size, modification time, inode change time, inode and device). The cache is a JSON
file; it is a convenience, never a source of truth: a cache that cannot be read is treated as
empty. What a stamp cannot see is bytes changed below the file system (a failing disk), or a
file system whose times or inodes are not kept; `--no-cache` hashes every file again for those.
"""
from __future__ import annotations

import json
import os
import threading
from typing import Any
from pathlib import Path

from generator.io.files import atomic_write_text
from generator.io.stamps import FileStamp

CACHE_FILE = "md5-digests.json"
_FORMAT = 2  # 1 kept (size, mtime) only; its entries are not trusted


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "laion2b-datasets"


class DigestCache:
    """A thread-safe map FileStamp -> md5, loaded from and saved to `folder/md5-digests.json`."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / CACHE_FILE
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = _load_entries(self.path)
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


def _load_entries(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("files"), dict):
        return {}
    return {name: entry for name, entry in data["files"].items() if isinstance(entry, dict)}
