"""Settings: keyword over environment over default, every value converted and bounded, and a
wrong one refused with the variable's name (the rules pydantic-settings gave, without it)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.settings import Settings, SettingsError


def test_defaults_without_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FAPIAO_HOME", "DATABASE_URL", "FAPIAO_MAX_UPLOAD_BYTES", "FAPIAO_STORE"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.home == Path("./fapiao-data")
    assert s.max_upload_bytes == 20 * 1024 * 1024
    assert s.second_approval_above == Decimal("5000.00")
    assert s.store == "disk" and s.database_url is None
    assert s.effective_database_url == f"sqlite:///{Path('./fapiao-data') / 'fapiao.sqlite3'}"


def test_environment_is_read_and_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAPIAO_HOME", "/srv/fapiao")
    monkeypatch.setenv("FAPIAO_MAX_UPLOAD_BYTES", " 1048576 ")
    monkeypatch.setenv("FAPIAO_SECOND_APPROVAL_ABOVE", "12000.50")
    monkeypatch.setenv("FAPIAO_VOUCHER_REVIEW", "off")
    monkeypatch.setenv("FAPIAO_SECURE_COOKIES", "YES")
    monkeypatch.setenv("FAPIAO_SANDBOX_CPU_SECONDS", "2.5")
    monkeypatch.setenv("FAPIAO_STORE", "s3")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    s = Settings()
    assert s.home == Path("/srv/fapiao") and s.max_upload_bytes == 1048576
    assert s.second_approval_above == Decimal("12000.50")
    assert s.voucher_review is False and s.secure_cookies is True
    assert s.sandbox_cpu_seconds == 2.5 and s.store == "s3"
    assert s.effective_database_url == "postgresql+psycopg://u@h/db"


def test_keyword_wins_over_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FAPIAO_HOME", "/srv/elsewhere")
    monkeypatch.setenv("FAPIAO_ENVIRONMENT", "production")
    s = Settings(home=tmp_path, environment="test")
    assert s.home == tmp_path and s.environment == "test"


@pytest.mark.parametrize(("name", "value", "says"), [
    ("FAPIAO_MAX_UPLOAD_BYTES", "20MB", "not a valid int"),
    ("FAPIAO_SANDBOX_MEMORY_MB", "64", "less than 128"),
    ("FAPIAO_SANDBOX_CPU_SECONDS", "0", "greater than 0"),
    ("FAPIAO_SANDBOX_NICE", "20", "more than 19"),
    ("FAPIAO_STORE", "ftp", "not one of disk, s3"),
    ("FAPIAO_VOUCHER_REVIEW", "maybe", "not a valid bool"),
    ("FAPIAO_SECOND_APPROVAL_ABOVE", "five thousand", "not a valid Decimal"),
])
def test_a_wrong_value_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, name: str,
                                                     value: str, says: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        Settings()
    assert name in str(err.value) and says in str(err.value)


def test_wrong_keywords_are_refused() -> None:
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings(hom=Path("/x"))
    with pytest.raises(SettingsError, match="sandbox_workers"):
        Settings(sandbox_workers=0)
    with pytest.raises(SettingsError, match="not a valid int"):
        Settings(max_upload_bytes=1.5)


def test_model_copy_replaces_without_touching_the_original(tmp_path: Path) -> None:
    s = Settings(home=tmp_path)
    t = s.model_copy(update={"store": "s3"})
    assert t.store == "s3" and s.store == "disk" and t.home == tmp_path
