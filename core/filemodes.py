"""Who may read the data folder: its owner only.

The data folder holds the database (every invoice, user and token hash), the original files
and the organisation's archive signing key. Another local account must not read any of it:
the folder is 0700, the SQLite database (and its WAL and shared-memory files, which SQLite
creates with the database's mode) and the keys 0600. Whoever can run the CLI on the folder
as its owner can act as any user (``--as``), as with any local database: the protection is
the operating system's account, which these modes make the only way in.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it owner-only."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # a folder we do not own is left as it is
        os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if missing, and make it owner-only (before anything is written)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    with contextlib.suppress(PermissionError):
        os.chmod(path, FILE_MODE)
    return path


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (``None`` for other databases and in-memory ones)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if not u.drivername.startswith("sqlite") or u.database in (None, "", ":memory:"):
        return None
    return Path(u.database)


def secure_home(home: Path, database_url: str | None = None) -> None:
    """The data folder 0700; a SQLite database (and its WAL files) 0600, created so."""
    private_dir(home)
    db = sqlite_file(database_url) if database_url else None
    if db is not None and db.parent.is_dir():
        private_file(db)
        for extra in ("-wal", "-shm"):
            side = db.with_name(db.name + extra)
            if side.exists():
                private_file(side)
