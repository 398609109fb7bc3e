"""What tells one version of a file from another without reading it, the way git's index
does: path, size, modification time, inode change time, inode and device.

Writing a file changes its ctime even when its mtime is set back, and replacing it by
another file changes its inode, so neither passes for the version that was read. A stamp
cannot see bytes changed below the file system (a failing disk), nor a change made within
one tick of the clock that stamps files as it is being read; `settled` keeps a remembered
result from resting on such a version.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

# File systems stamp modification times in ticks (a few ms, up to 2 s): a file written within a
# tick of being read could change again without its stamp changing, so it is not remembered.
# (Its change time is not held to this: a file rewritten with its mtime set back gets a new
# ctime, which the stamp compares; only a rewrite racing the reader within one tick escapes.)
RECENT_NS = 2_000_000_000


@dataclass(frozen=True)
class FileStamp:
    """One version of a file on disk."""

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

    @classmethod
    def read(cls, path: Path) -> "FileStamp":
        return cls.of(path, os.stat(path))

    def entry(self) -> dict[str, int]:
        """The stamp as stored, under its path."""
        return {key: value for key, value in asdict(self).items() if key != "path"}


def settled(stamp: FileStamp, read_since_ns: int) -> bool:
    """Whether a result read from the file may be remembered under `stamp`: the file still has
    that stamp (a file being written has not), and it was last written more than a clock tick
    before the reading started at `read_since_ns`."""
    if stamp.mtime_ns > read_since_ns - RECENT_NS:
        return False
    try:
        return FileStamp.read(Path(stamp.path)) == stamp
    except OSError:
        return False
