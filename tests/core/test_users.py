"""Usernames that look alike are one user; display names; ending a user's credentials.

Run on SQLite and PostgreSQL: the uniqueness is the database's (``username_key``).
"""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from core.db import session_scope
from core.users import (
    ApiToken,
    Role,
    User,
    UserError,
    create_user,
    credentials_current,
    display_name,
    end_sessions,
    get_user,
    issue_token,
    user_for_token,
    username_key,
)


@pytest.mark.parametrize("name", ["admin\u200b", "\u202enimda", "ad\u0000min", "ad\u2066min", "a\u00admin",
                                  "ad min", "ad\nmin", "", "   ", "x" * 65])
def test_names_with_invisible_or_bidi_characters_are_refused(engine: Engine, name: str) -> None:
    with pytest.raises(UserError) as err, session_scope() as s:
        create_user(s, name, Role.CLERK)
    assert err.value.code == "bad_username"
    assert "用户名" in err.value.message


def test_look_alike_names_fold_to_one_user(engine: Engine) -> None:
    with session_scope() as s:
        admin = create_user(s, "admin", Role.ADMIN)
        zhang = create_user(s, "ＺｈａｎｇＳａｎ", Role.CLERK, display="张三")
        li = create_user(s, "李四", Role.CLERK)
    assert zhang.username == "ZhangSan" and zhang.username_key == "zhangsan"  # NFKC, case kept for display
    for twin in ("ＡＤＭＩＮ", "Admin", "ADMIN", " admin "):
        with pytest.raises(UserError) as err, session_scope() as s:
            create_user(s, twin, Role.CLERK)
        assert err.value.code == "user_exists" and "admin" in err.value.message
    with session_scope() as s:
        assert get_user(s, "ＡＤＭＩＮ").id == admin.id  # type: ignore[union-attr]
        assert get_user(s, "zhangsan").id == zhang.id  # type: ignore[union-attr]
        assert get_user(s, "李四").id == li.id  # type: ignore[union-attr]
        assert get_user(s, "admin\u200b") is None
    assert display_name(zhang) == "张三" and display_name(li) == "李四" and display_name(None) == ""


def test_the_database_itself_refuses_a_second_key(engine: Engine) -> None:
    # even code that skips create_user cannot store two users under one key
    with session_scope() as s:
        create_user(s, "wang", Role.CLERK)
    with pytest.raises(IntegrityError), session_scope() as s:
        s.add(User(username="WANG", username_key=username_key("WANG"), role="clerk"))
        s.flush()


def test_display_name_is_cleaned_and_may_be_left_out(engine: Engine) -> None:
    with session_scope() as s:
        u = create_user(s, "zhao", Role.CLERK, display="  赵六  ")
        v = create_user(s, "qian", Role.CLERK, display="")
    assert u.display_name == "赵六" and v.display_name is None and display_name(v) == "qian"
    with pytest.raises(UserError) as err, session_scope() as s:
        create_user(s, "sun", Role.CLERK, display="孙\u202e七")
    assert err.value.code == "bad_display_name"


def test_end_sessions_revokes_tokens_and_dates_out_sessions(engine: Engine) -> None:
    with session_scope() as s:
        user = create_user(s, "zhou", Role.CLERK)
        _, old = issue_token(s, user)
        other = create_user(s, "wu", Role.CLERK)
        _, others = issue_token(s, other)
    with session_scope() as s:
        assert user_for_token(s, old) is not None
        u = s.get(User, user.id)
        assert u is not None and credentials_current(u, u.created_at)
        assert end_sessions(s, u) == 1
    with session_scope() as s:
        u = s.get(User, user.id)
        assert u is not None
        assert user_for_token(s, old) is None
        assert not credentials_current(u, user.created_at)  # a session from before is refused
        _, fresh = issue_token(s, u)
    with session_scope() as s:
        assert user_for_token(s, fresh) is not None  # a token issued afterwards works
        assert user_for_token(s, others) is not None  # other users are untouched
        revoked = s.exec(select(ApiToken).where(ApiToken.user_id == user.id,
                                                col(ApiToken.revoked_at).is_not(None))).all()
        assert len(revoked) == 1  # the revocation shows in the token list
