"""``fapiao backup DIR`` and ``fapiao restore DIR`` (see core/backup.py).

Both act on the data folder and database as the operating-system account that owns them, like
copying the folder would; there is no ``--as``: restore runs before any user exists.
"""

from __future__ import annotations

import argparse

from api.cli.common import OK, add_json_flag, print_json, service_errors


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("backup", help="back up database, originals, archive store, keys and anchors",
                       description="Write a consistent backup while the service runs: the database "
                                   "(SQLite online backup or pg_dump), originals, archive store, keys, "
                                   "audit anchors, and manifest.json with every file's SHA-256.")
    p.add_argument("dir", metavar="DIR", help="a new or empty folder outside the data folder")
    add_json_flag(p)
    p.set_defaults(handler=run_backup)
    p = sub.add_parser("restore", help="restore a backup into an empty data folder and database",
                       description="Check every file against the backup's manifest, then restore into "
                                   "the empty $FAPIAO_HOME (and empty DATABASE_URL database / bucket).")
    p.add_argument("dir", metavar="DIR", help="a folder written by fapiao backup")
    add_json_flag(p)
    p.set_defaults(handler=run_restore)


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{n / 1024:.1f} KB"


def run_backup(args: argparse.Namespace) -> int:
    from core import backup, messages

    with service_errors():
        report = backup.backup(args.dir)
    if args.json:
        print_json(report.to_dict())
    else:
        print(messages.text("backup.done", files=report.files, size=_size(report.bytes), database=report.database,
                            audit=report.audit_entries, path=report.directory))
    return OK


def run_restore(args: argparse.Namespace) -> int:
    from core import backup, messages

    with service_errors():
        report = backup.restore(args.dir)
    if args.json:
        print_json(report.to_dict())
    else:
        print(messages.text("restore.done", files=report.files, database=report.database,
                            audit=report.audit_entries))
    return OK
