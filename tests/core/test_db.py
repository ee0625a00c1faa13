"""Database foundations: aware times, migrations, users and tokens."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import core.tables  # noqa: F401
from core.db import migrate, session_scope
from core.users import Role, UserError, check_password, create_user, issue_token, user_for_token


def test_times_come_back_timezone_aware(engine: Engine) -> None:
    with session_scope() as s:
        user = create_user(s, "clerk1", Role.CLERK, password="s3cret-pass")
        uid = user.id
    with session_scope() as s:
        from core.users import User

        again = s.get(User, uid)
        assert again is not None
        assert isinstance(again.created_at, datetime) and again.created_at.tzinfo is not None


def test_migrations_create_every_table_and_rerun_cleanly(engine: Engine) -> None:
    migrate(engine)  # second run is a no-op
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables


def test_tokens_are_hashed_and_revocable(engine: Engine) -> None:
    with session_scope() as s:
        user = create_user(s, "acct", Role.ACCOUNTANT)
        token, clear = issue_token(s, user)
        assert token.token_hash != clear and clear not in token.token_hash
    with session_scope() as s:
        found = user_for_token(s, clear)
        assert found is not None and found.username == "acct"
        assert user_for_token(s, clear + "x") is None


def test_bad_role_and_duplicate_user_are_refused(engine: Engine) -> None:
    with session_scope() as s:
        create_user(s, "bob", "approver", password="pw-123456")
    with pytest.raises(UserError, match="“bob”已被占用") as err, session_scope() as s:
        create_user(s, "bob", "clerk")
    assert err.value.code == "user_exists"
    with pytest.raises(UserError, match="角色“boss”不存在") as err, session_scope() as s:
        create_user(s, "carol", "boss")
    assert err.value.code == "bad_role"


def test_password_check(engine: Engine) -> None:
    with session_scope() as s:
        user = create_user(s, "dave", "auditor", password="correct horse")
        assert check_password(user, "correct horse")
        assert not check_password(user, "wrong")
