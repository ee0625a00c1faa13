"""Settings, read from the environment (``FAPIAO_*``) and reached through ``get_settings()``.

Tests override them with ``override_settings(...)`` instead of patching globals.

Why not pydantic-settings: every command reads its settings first, and importing
pydantic-settings (pydantic, its core, python-dotenv, asyncio) cost more CPU than the rest of a
one-file ``fapiao parse`` (issue 15: parse and verify start in under 0.15 s). The rules it gave
are kept here, in a few lines of standard library: a keyword given to ``Settings(...)`` wins
over ``FAPIAO_<NAME>`` in the environment (``DATABASE_URL`` for the database), which wins over
the default; every value is converted to its declared type and checked against its bounds,
and a wrong one stops the program with the variable's name and what was expected.
"""

from __future__ import annotations

import copy
import os
import typing
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

ENV_PREFIX = "FAPIAO_"
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


class SettingsError(ValueError):
    """A setting has a value of the wrong type or out of its bounds (names the variable)."""


def _meta(*, ge: float | None = None, gt: float | None = None, le: float | None = None,
          env: str | None = None, description: str | None = None) -> dict[str, Any]:
    """Bounds of a setting, and its environment name when it is not ``FAPIAO_<NAME>``."""
    return {"ge": ge, "gt": gt, "le": le, "env": env, "description": description}


@dataclass(init=False)
class Settings:
    """Every setting of the service; ``FAPIAO_<NAME>`` in the environment sets ``name``."""

    home: Path = field(default=Path("./fapiao-data"),
                       metadata=_meta(description="data folder (SQLite, stores)"))
    database_url: str | None = field(default=None, metadata=_meta(
        env="DATABASE_URL", description="SQLAlchemy URL; SQLite under home when unset"))
    org_name: str | None = None
    org_tax_id: str | None = None
    # 全宗号 and the category scheme of the 档号 (DESIGN §2: the code KU is vendor practice).
    fonds_code: str = "Z001"
    archive_category: str = "KU·PZ"
    duplicate_policy: Literal["block", "warn"] = "block"
    second_approval_above: Decimal = Decimal("5000.00")
    # 凭证审核 (会计基础工作规范 separates 制单, 审核 and 记账): when true a voucher is posted only
    # after an accountant other than its maker reviewed it; false lets tiny teams post drafts.
    voucher_review: bool = True
    max_upload_bytes: int = 20 * 1024 * 1024
    max_uncompressed_bytes: int = 64 * 1024 * 1024
    max_zip_ratio: int = 200
    max_zip_members: int = 2000
    # PDF: no stream may decode to more than this, nor all streams (and image pixels)
    # together to more than the total; a bomb is refused as too_complex (invoice.pdf.bounds).
    max_pdf_stream_bytes: int = 64 * 1024 * 1024
    max_pdf_total_bytes: int = 256 * 1024 * 1024
    parse_timeout_seconds: float = 20.0
    # Scans and photos (invoice/image): the picture is refused before decoding past these
    # caps (a decompression bomb); OCR engine (tesseract | rapidocr) and its time budget; the
    # sandbox bounds of one scan (OCR needs more time than reading a PDF's text layer).
    scan_max_pixels: int = field(default=40_000_000, metadata=_meta(ge=1))
    scan_max_side: int = field(default=12_000, metadata=_meta(ge=1))
    ocr_engine: Literal["tesseract", "rapidocr"] = "tesseract"
    scan_ocr_timeout_seconds: float = field(default=30.0, metadata=_meta(gt=0))
    scan_cpu_seconds: float = field(default=30.0, metadata=_meta(gt=0))
    scan_wall_seconds: float = field(default=40.0, metadata=_meta(gt=0))
    # The sandbox that parses and verifies untrusted files (invoice/sandbox.py): per-file CPU
    # seconds, wall-clock seconds and address space of a worker; warm workers and the cap.
    sandbox_cpu_seconds: float = field(default=8.0, metadata=_meta(gt=0))
    sandbox_wall_seconds: float = field(default=9.0, metadata=_meta(gt=0))
    sandbox_memory_mb: int = field(default=450, metadata=_meta(ge=128))
    sandbox_workers: int = field(default=2, metadata=_meta(ge=1))
    sandbox_max_workers: int = field(default=6, metadata=_meta(ge=1))
    # Niceness of the sandbox workers: with it, on a saturated machine the API's request threads
    # (queries) and the database get the CPU before parsing (bench/api.py; README "Queue and
    # scale-out"). Off by default: niced workers also reach the wall-clock limit sooner on a
    # busy machine. 0 keeps the caller's priority.
    sandbox_nice: int = field(default=0, metadata=_meta(ge=0, le=19))
    online_check_url: str | None = None
    online_check_key: str | None = field(default=None, repr=False)
    online_check_daily_limit: int = 5
    # Claim gate (accounting/invoice_status.py): when true, a claim is approved only when each
    # unsigned or indeterminate invoice on it has a successful 查验 result or a recorded override.
    require_online_check: bool = False
    session_hours: int = 8
    # Behind a TLS-terminating proxy the app sees plain HTTP: set this so cookies carry Secure.
    secure_cookies: bool = False
    environment: Literal["development", "production", "test"] = "development"
    # Job queue (core/jobs.py, core/worker.py): threads of the in-process runner that
    # `fapiao serve` starts (0: none, jobs wait for `fapiao worker` processes), and the lease a
    # worker holds on a job (renewed every third of it; a dead worker's job is free after it).
    queue_embedded_workers: int = field(default=1, metadata=_meta(ge=0, le=32))
    # On PostgreSQL (procrastinate delivers) the same figure is the heartbeat silence after
    # which a worker counts as dead and its job is queued again (heartbeat every third of it).
    job_lease_seconds: float = field(default=60.0, metadata=_meta(ge=1.0))
    # On PostgreSQL: when procrastinate's periodic task records the day's scheduled jobs (cron,
    # UTC, seconds as an optional sixth field); each tick is deferred once across all workers
    # and the per-day keys make it one job a day. Hourly, so a day is not missed by a restart.
    queue_schedule_cron: str = "7 * * * *"
    # Scheduled work the runners enqueue (once per UTC day each, whichever worker is first).
    schedule_daily: bool = True
    # Where originals and archive packages live (core/s3store.py): ``disk`` under ``home``
    # (the embedded default) or an S3-compatible bucket. ``s3_object_lock``: ``auto`` uses
    # Object Lock in COMPLIANCE mode when the bucket has it enabled, ``compliance`` requires it,
    # ``off`` relies on conditional writes (If-None-Match) alone.
    store: Literal["disk", "s3"] = "disk"
    s3_endpoint: str | None = None
    s3_bucket: str = "fapiao-archive"
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = field(default=None, repr=False)
    s3_prefix: str = ""
    s3_object_lock: Literal["auto", "compliance", "off"] = "auto"
    s3_retention_years: int = field(default=30, metadata=_meta(ge=1))  # 会计档案管理办法: 原始凭证 30 years
    s3_multipart_bytes: int = field(default=8 * 1024 * 1024, metadata=_meta(ge=5 * 1024 * 1024))
    # Server logs: one JSON object per line with the request id (core/logs.py), or uvicorn's text.
    log_format: Literal["json", "text"] = "json"

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - {f.name for f in fields(self)}
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        hints = _hints()
        for f in fields(self):
            env_name = f.metadata.get("env") or ENV_PREFIX + f.name.upper()
            if f.name in values:
                raw, source = values[f.name], f.name
            elif env_name in os.environ:
                raw, source = os.environ[env_name], env_name
            else:
                raw, source = f.default, f.name
            setattr(self, f.name, _checked(_convert(raw, hints[f.name], source), f, source))

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Settings:
        """A copy with some values replaced (as unchecked as pydantic's ``model_copy``)."""
        new = copy.copy(self)
        new.__dict__.update(update or {})
        return new

    @property
    def sqlite_path(self) -> Path:
        return self.home / "fapiao.sqlite3"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.sqlite_path}"

    @property
    def files_dir(self) -> Path:
        return self.home / "files"

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"


@lru_cache(maxsize=1)
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(Settings)


def _convert(raw: Any, hint: Any, source: str) -> Any:
    """``raw`` (a keyword's value or an environment string) as the declared type."""
    args = typing.get_args(hint)
    if type(None) in args:  # X | None
        if raw is None:
            return None
        hint = next(a for a in args if a is not type(None))
        args = typing.get_args(hint)
    if typing.get_origin(hint) is Literal:
        if raw not in args:
            raise SettingsError(f"{source}: {raw!r} is not one of {', '.join(map(str, args))}")
        return raw
    try:
        if hint is bool:
            if isinstance(raw, bool):
                return raw
            word = str(raw).strip().lower()
            if word in _TRUE or word in _FALSE:
                return word in _TRUE
            raise ValueError(raw)
        if hint is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(raw)
            return int(raw.strip() if isinstance(raw, str) else raw)
        if hint is float:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return float(raw)
        if hint is Decimal:
            return Decimal(str(raw).strip())
        if hint is Path:
            return Path(raw)
        if hint is str and isinstance(raw, str):
            return raw
    except (ValueError, TypeError, InvalidOperation):
        pass
    raise SettingsError(f"{source}: {raw!r} is not a valid {getattr(hint, '__name__', hint)}")


def _checked(value: Any, f: Any, source: str) -> Any:
    bounds = f.metadata
    if value is None or isinstance(value, (str, Path, bool)):
        return value
    if bounds.get("ge") is not None and value < bounds["ge"]:
        raise SettingsError(f"{source}: {value} is less than {bounds['ge']}")
    if bounds.get("gt") is not None and value <= bounds["gt"]:
        raise SettingsError(f"{source}: {value} must be greater than {bounds['gt']}")
    if bounds.get("le") is not None and value > bounds["le"]:
        raise SettingsError(f"{source}: {value} is more than {bounds['le']}")
    return value


_override: Settings | None = None


@lru_cache(maxsize=1)
def _from_env() -> Settings:
    return Settings()


def get_settings() -> Settings:
    return _override if _override is not None else _from_env()


def override_settings(settings: Settings | None) -> None:
    """Install (or with ``None`` remove) settings for tests and the CLI's options."""
    global _override
    _override = settings
    _from_env.cache_clear()
