"""Settings, read from the environment (``FAPIAO_*``) and reached through ``get_settings()``.

Tests override them with ``override_settings(...)`` instead of patching globals.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FAPIAO_", extra="ignore")

    home: Path = Field(default=Path("./fapiao-data"), description="data folder (SQLite, stores)")
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; SQLite under home when unset",
    )
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
    scan_max_pixels: int = Field(default=40_000_000, ge=1)
    scan_max_side: int = Field(default=12_000, ge=1)
    ocr_engine: Literal["tesseract", "rapidocr"] = "tesseract"
    scan_ocr_timeout_seconds: float = Field(default=30.0, gt=0)
    scan_cpu_seconds: float = Field(default=30.0, gt=0)
    scan_wall_seconds: float = Field(default=40.0, gt=0)
    # The sandbox that parses and verifies untrusted files (invoice/sandbox.py): per-file CPU
    # seconds, wall-clock seconds and address space of a worker; warm workers and the cap.
    sandbox_cpu_seconds: float = Field(default=8.0, gt=0)
    sandbox_wall_seconds: float = Field(default=9.0, gt=0)
    sandbox_memory_mb: int = Field(default=450, ge=128)
    sandbox_workers: int = Field(default=2, ge=1)
    sandbox_max_workers: int = Field(default=6, ge=1)
    # Niceness of the sandbox workers: with it, on a saturated machine the API's request threads
    # (queries) and the database get the CPU before parsing (bench/api.py; README "Queue and
    # scale-out"). Off by default: niced workers also reach the wall-clock limit sooner on a
    # busy machine. 0 keeps the caller's priority.
    sandbox_nice: int = Field(default=0, ge=0, le=19)
    online_check_url: str | None = None
    online_check_key: str | None = None
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
    queue_embedded_workers: int = Field(default=1, ge=0, le=32)
    # On PostgreSQL (procrastinate delivers) the same figure is the heartbeat silence after
    # which a worker counts as dead and its job is queued again (heartbeat every third of it).
    job_lease_seconds: float = Field(default=60.0, ge=1.0)
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
    s3_secret_key: str | None = None
    s3_prefix: str = ""
    s3_object_lock: Literal["auto", "compliance", "off"] = "auto"
    s3_retention_years: int = Field(default=30, ge=1)  # 会计档案管理办法: 原始凭证 30 years
    s3_multipart_bytes: int = Field(default=8 * 1024 * 1024, ge=5 * 1024 * 1024)
    # Server logs: one JSON object per line with the request id (core/logs.py), or uvicorn's text.
    log_format: Literal["json", "text"] = "json"

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
