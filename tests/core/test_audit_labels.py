"""Every action the code writes to the audit log has a Chinese label (domain ``audit_action``).

The actions are read from the sources themselves (every ``audit.append(...)`` call), so a new
action without a label fails here instead of reaching the auditor as ``archive.export_started``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core import messages

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("accounting", "api", "archive", "core", "invoice")


def _is_audit_append(call: ast.Call) -> bool:
    f = call.func
    return (isinstance(f, ast.Attribute) and f.attr == "append" and isinstance(f.value, ast.Name)
            and f.value.id == "audit")


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _actions_in(tree: ast.Module) -> list[str]:
    """Literal actions, and f-string actions (``f"claim.{action}"``) resolved through the
    literal arguments every caller of the enclosing function passes for that parameter."""
    functions = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    found: list[str] = []
    for fn in [tree, *functions.values()]:
        for call in ast.walk(fn):
            if not (isinstance(call, ast.Call) and _is_audit_append(call) and len(call.args) >= 3):
                continue
            arg = call.args[2]
            if isinstance(arg, ast.JoinedStr) and isinstance(fn, ast.FunctionDef):
                prefix = "".join(v.value for v in arg.values if isinstance(v, ast.Constant))
                names = [v.value.id for v in arg.values
                         if isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Name)]
                params = [a.arg for a in fn.args.args]
                for name in names:
                    index = params.index(name)
                    for caller in ast.walk(tree):
                        if (isinstance(caller, ast.Call) and isinstance(caller.func, ast.Name)
                                and caller.func.id == fn.name and len(caller.args) > index):
                            found += [prefix + s for s in _strings(caller.args[index])]
            elif not isinstance(arg, ast.JoinedStr):  # (f-strings: resolved in their function)
                found += [s for s in _strings(arg) if "." in s]
    return found


def _all_actions() -> set[str]:
    actions: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            actions |= set(_actions_in(ast.parse(path.read_text(encoding="utf-8"))))
    return actions


def test_the_scan_finds_the_actions_it_should() -> None:
    actions = _all_actions()
    for known in ("voucher.post", "voucher.review", "voucher.delete", "claim.approve", "user.deactivated",
                  "archive.export_started", "invoice.upload"):
        assert known in actions, known


@pytest.mark.parametrize("action", sorted(_all_actions()))
def test_every_audit_action_has_a_chinese_label(action: str) -> None:
    label = messages.label("audit_action", action)
    assert label != action, f"audit action {action!r} has no label in core/messages"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in label)


def test_an_unknown_action_shows_its_code() -> None:
    assert messages.label("audit_action", "no.such_action") == "no.such_action"
