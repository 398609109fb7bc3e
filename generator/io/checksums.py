"""md5 digests of files, read in large blocks (hashlib releases the GIL on them)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

BLOCK_BYTES = 8 * 1024 * 1024


class Hash(Protocol):
    """What hashlib's objects offer that reading a file into one needs."""

    def update(self, data: bytes | memoryview, /) -> None: ...


def file_md5(path: Path, on_bytes: Callable[[int], object] | None = None) -> str:
    """Hex md5 of a file; `on_bytes(n)` is called after each block, for progress."""
    digest = hashlib.md5()
    hash_file(digest, path, 0, on_bytes)
    return digest.hexdigest()


def hash_file(digest: Hash, path: Path, start: int = 0, on_bytes: Callable[[int], object] | None = None,
              stop: int | None = None) -> int:
    """Feeds bytes `start` to `stop` (the end when None) of the file at `path` into `digest`;
    returns how many were read.

    Parameters: digest, a hashlib object; path; start and stop, byte offsets; on_bytes(n),
    called after each block, for progress.
    Example: hash_file(hashlib.md5(), Path("a.h5"), 0) == os.path.getsize("a.h5").
    """
    buffer = bytearray(BLOCK_BYTES)
    view = memoryview(buffer)
    done = 0
    with open(path, "rb", buffering=0) as stream:
        stream.seek(start)
        while stop is None or start + done < stop:
            wanted = BLOCK_BYTES if stop is None else min(BLOCK_BYTES, stop - start - done)
            n = stream.readinto(view[:wanted])
            if not n:
                break
            digest.update(view[:n])
            done += n
            if on_bytes:
                on_bytes(n)
    return done
