"""Settings that ``fapiao init`` records in the data folder (``$FAPIAO_HOME/settings.env``).

The organisation's name and tax id are facts of the installation, not of one shell: ``init``
writes them next to the database, and the CLI and every server worker load them at start as
defaults under the real environment (which still wins), so ``fapiao serve`` after
``fapiao init --org-name …`` needs no exported variables.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.settings import Settings, get_settings, override_settings

FILE_NAME = "settings.env"
KEYS = ("FAPIAO_ORG_NAME", "FAPIAO_ORG_TAX_ID")


def path_for(home: Path) -> Path:
    return home / FILE_NAME


def read(home: Path) -> dict[str, str]:
    p = path_for(home)
    if not p.is_file():
        return {}
    values: dict[str, str] = {}
    for line in p.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, _, v = line.partition("=")
        if k.strip() in KEYS:
            values[k.strip()] = v.strip()
    return values


def write(home: Path, values: dict[str, str]) -> None:
    merged = {**read(home), **{k: v for k, v in values.items() if k in KEYS}}
    for k, v in merged.items():
        if "\n" in v or "\r" in v:
            raise ValueError(f"{k} must be one line")
    home.mkdir(parents=True, exist_ok=True)
    text = "# written by `fapiao init`; the environment overrides these\n"
    text += "".join(f"{k}={v}\n" for k, v in sorted(merged.items()))
    tmp = path_for(home).with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path_for(home))


def load() -> None:
    """Apply the data folder's recorded settings (unless the environment sets them)."""
    import core.settings as cs

    values = read(get_settings().home)
    if not values:
        return
    if cs._override is not None:  # tests and in-process callers: update the installed settings
        current: Settings = cs._override
        override_settings(current.model_copy(update=_as_fields(values, current)))
        return
    changed = False
    for k, v in values.items():
        if k not in os.environ:
            os.environ[k] = v
            changed = True
    if changed:
        override_settings(None)  # re-read the environment


def _as_fields(values: dict[str, str], current: Settings) -> dict[str, str]:
    out: dict[str, str] = {}
    if "FAPIAO_ORG_NAME" in values and not current.org_name:
        out["org_name"] = values["FAPIAO_ORG_NAME"]
    if "FAPIAO_ORG_TAX_ID" in values and not current.org_tax_id:
        out["org_tax_id"] = values["FAPIAO_ORG_TAX_ID"]
    return out
