"""Read models shared by every package: money, timestamps, the list envelope, users, audit rows.

The API, the CLI's ``--json`` and the web page all show records through ``…Public`` models
(SQLModel's model family, STYLE.md): one declaration per record, so a field is named, typed and
documented once and the OpenAPI schema describes every response. The JSON is the contract of
API.md and stays byte-for-byte what the hand-written dicts gave before:

* money is a ``Decimal`` in Python and a two-decimal string in JSON (``"181.14"``): ``Money``;
* timestamps are aware ``datetime`` and serialise with ``isoformat()`` (``+00:00``, not
  Pydantic's ``Z``): ``Timestamp``;
* a list is ``{"items", "total", "page", "page_size"}``: ``Page[T]``.

Dump with ``model_dump(mode="json")`` (what the API sends and the CLI prints).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from core import messages
from core.clock import CHINA
from core.jobs import JobState


def money_text(value: Decimal) -> str:
    """Two decimals, as API.md writes money (``"181.14"``)."""
    return str(value.quantize(Decimal("0.01")))


def _aware(value: Any) -> Any:
    """ISO text (older JSON columns) is read as a datetime; naive values are refused below."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _iso(value: datetime) -> str:
    return value.isoformat()


Money = Annotated[Decimal, PlainSerializer(money_text, return_type=str, when_used="json")]
"""Money: ``Decimal`` in Python, ``"181.14"`` in JSON."""

Timestamp = Annotated[datetime, BeforeValidator(_aware),
                      PlainSerializer(_iso, return_type=str, when_used="json")]
"""An aware timestamp, written as ``datetime.isoformat()`` (``2025-11-03T08:00:00+00:00``)."""

T = TypeVar("T")


class PublicModel(BaseModel):
    """Base of the read models: built from records by attribute, enums kept as enums."""

    model_config = ConfigDict(from_attributes=True)

    def to_json(self) -> dict[str, Any]:
        """What the API sends and ``--json`` prints."""
        return self.model_dump(mode="json")


class Page(PublicModel, Generic[T]):
    """One page of a list (API.md: ``?page=1&page_size=50``)."""

    items: list[T]
    total: int = Field(description="rows matching the filters, on every page")
    page: int = 1
    page_size: int = 50


class Items(PublicModel, Generic[T]):
    """A short, complete list (no paging): ``{"items", "total"}``."""

    items: list[T]
    total: int


class UserPublic(PublicModel):
    """A user as the API shows it (never the password hash)."""

    id: str
    username: str
    display_name: str = Field(default="", description="the display name, else the username")
    role: str = Field(description="clerk | approver | accountant | archivist | auditor | admin | claims_officer")
    role_label: str = ""
    active: bool = True
    operations: list[str] = Field(default_factory=list, description="what the user may do (GET /me only)")

    @classmethod
    def from_user(cls, user: Any, operations: list[str] | None = None) -> UserPublic:
        return cls(id=user.id, username=user.username, display_name=user.display_name or user.username,
                   role=user.role, role_label=messages.label("role", user.role), active=user.active,
                   operations=operations or [])


class TokenPublic(PublicModel):
    """An API token's record (its value is shown once, at issue: ``TokenIssued``)."""

    id: str
    user_id: str
    created_at: Timestamp
    revoked_at: Timestamp | None = None


class TokenIssued(TokenPublic):
    token: str = Field(description="The API token, shown this once only.")


class AuditEntryPublic(PublicModel):
    """One row of the tamper-evident audit log, with Chinese labels and China time."""

    seq: int
    at: Timestamp
    at_china: Timestamp
    actor: str
    actor_name: str
    action: str
    action_label: str
    object_type: str
    object_label: str
    object_id: str
    details: Any = None
    hash: str

    @classmethod
    def from_entry(cls, entry: Any, names: dict[str, str] | None = None, details: Any = None) -> AuditEntryPublic:
        return cls(seq=entry.seq, at=entry.at, at_china=entry.at.astimezone(CHINA), actor=entry.actor,
                   actor_name=(names or {}).get(entry.actor, entry.actor), action=entry.action,
                   action_label=messages.label("audit_action", entry.action), object_type=entry.object_type,
                   object_label=messages.label("audit_object", entry.object_type), object_id=entry.object_id,
                   details=details, hash=entry.hash)


class ActionLabel(PublicModel):
    action: str
    label: str


class ChainReportPublic(PublicModel):
    """``GET /audit/verify`` and ``fapiao audit verify``: the hash chain held against its anchors."""

    ok: bool
    entries: int
    first_broken: dict[str, Any] | None = None
    anchor: dict[str, Any] | None = None
    anchors_checked: int = 0
    missing_after_seq: int | None = None
    anchor_mismatch: dict[str, Any] | None = None
    anchor_problems: list[Any] = Field(default_factory=list)
    message: str = ""


class Ok(PublicModel):
    """A plain acknowledgement."""

    ok: bool = True


class JobProgress(PublicModel):
    """How far a job has come: ``percent`` is ``None`` while the total is unknown."""

    done: int = 0
    total: int | None = None
    percent: float | None = None


class JobPublic(PublicModel):
    """A queued job (``core.jobs``): ``GET /jobs``, ``fapiao job list --json``, and the answer of
    the routes that queue work (``POST /archive/years/{year}/packages``)."""

    id: str
    kind: str
    key: str | None = None
    state: JobState
    state_label: str
    kind_label: str
    params: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 0
    max_attempts: int = 3
    progress: JobProgress
    counts: dict[str, int] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = Field(default=None, description="{code, message, details} of the last failure")
    worker: str | None = None
    parent_id: str | None = None
    created_by: str | None = None
    created_at: Timestamp
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None

    @classmethod
    def from_job(cls, job: Any) -> JobPublic:
        total = job.progress_total
        return cls(id=job.id, kind=job.kind, key=job.key, state=JobState(job.state),
                   state_label=messages.label("job_state", job.state),
                   kind_label=messages.label("job_kind", job.kind), params=job.params or {},
                   attempts=job.attempts, max_attempts=job.max_attempts,
                   progress=JobProgress(done=job.progress_done, total=total,
                                        percent=round(100 * job.progress_done / total, 1) if total else None),
                   counts=job.counts or {}, result=job.result, error=job.error, worker=job.worker,
                   parent_id=job.parent_id, created_by=job.created_by, created_at=job.created_at,
                   started_at=job.started_at, finished_at=job.finished_at)


class JobDetail(JobPublic):
    """One job (``GET /jobs/{id}``, ``fapiao job show``): a fan-out job (``archive.build_year``)
    also counts its children by state; ``children`` is ``None`` for other kinds."""

    children: dict[JobState, int] | None = None

    @classmethod
    def for_job(cls, session: Any, job: Any) -> JobDetail:
        from core import jobs

        children = ({JobState(k): n for k, n in jobs.children_summary(session, job.id).items()}
                    if job.kind == "archive.build_year" else None)
        return cls(**JobPublic.from_job(job).model_dump(), children=children)


__all__ = ["ActionLabel", "AuditEntryPublic", "ChainReportPublic", "Items", "JobDetail", "JobProgress", "JobPublic", "Money", "Ok", "Page",
           "PublicModel", "Timestamp", "TokenIssued", "TokenPublic", "UserPublic", "money_text"]
