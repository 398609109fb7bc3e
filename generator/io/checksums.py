"""md5 digests of files, read in large blocks (hashlib releases the GIL on them)."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

BLOCK_BYTES = 8 * 1024 * 1024


def file_md5(path: Path, on_bytes: Callable[[int], object] | None = None) -> str:
    """Hex md5 of a file; `on_bytes(n)` is called after each block, for progress."""
    digest = hashlib.md5()
    buffer = bytearray(BLOCK_BYTES)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as stream:
        while n := stream.readinto(buffer):
            digest.update(view[:n])
            if on_bytes:
                on_bytes(n)
    return digest.hexdigest()
