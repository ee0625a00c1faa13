"""Who may do what: one table that both the HTTP routes and the CLI consult.

Every operation names its allowed roles here; the role-matrix test walks every route and
fails on one that declares no rule.
"""

from __future__ import annotations

from core import messages
from core.users import PERMISSIONS, Permission, Role, User

C, AP, AC, AR, AU, AD = (Role.CLERK, Role.APPROVER, Role.ACCOUNTANT, Role.ARCHIVIST,
                         Role.AUDITOR, Role.ADMIN)
CO = Role.CLAIMS_OFFICER  # 报销专员: a clerk who may also claim colleagues' invoices
EVERYONE = frozenset(Role)

RULES: dict[str, frozenset[Role]] = {
    "invoice.upload": frozenset({C, CO, AC, AD}),
    "invoice.read": EVERYONE,
    "invoice.verify": EVERYONE,  # parse/verify without storing
    "invoice.online_check": frozenset({C, CO, AC, AD}),  # 查验: calls the tax service, counted per day
    # lets an unsigned/indeterminate invoice pass the 查验 requirement; recorded with a reason
    "invoice.override": frozenset({AP, AC, AD}),
    "claim.create": frozenset({C, CO, AD}),
    "claim.submit": frozenset({C, CO, AD}),
    "claim.edit": frozenset({C, CO, AD}),  # PATCH a draft or rejected claim (its claimant only)
    "claim.for_others": PERMISSIONS[Permission.CLAIM_FOR_OTHERS],
    "claim.review": frozenset({AP, AD}),
    "claim.approve": frozenset({AP, AD}),
    "claim.reject": frozenset({AP, AD}),
    "claim.read": EVERYONE,
    "voucher.create": frozenset({AC, AD}),
    "voucher.post": frozenset({AC, AD}),
    "voucher.reverse": frozenset({AC, AD}),
    "voucher.import": frozenset({AC, AD}),
    "voucher.read": EVERYONE,
    "archive.package": frozenset({AR, AD}),
    "archive.check": frozenset({AR, AU, AD}),
    "archive.export": frozenset({AR, AD}),
    "archive.override": frozenset({AR, AD}),
    "archive.destroy": frozenset({AR, AD}),
    "archive.read": EVERYONE,
    "archive.key_rotate": frozenset({AD}),  # a new organisation key: packages and anchors signed from now on
    "audit.verify": frozenset({AU, AD}),
    "audit.read": frozenset({AU, AD}),
    "store.check": frozenset({AR, AU, AD}),
    "store.sweep": frozenset({AD}),
    "users.manage": frozenset({AD}),
    "me": EVERYONE,
    "job.read": EVERYONE,  # the jobs one started (core/jobs.py)
    "job.read_all": frozenset({AR, AU, AD}),  # everyone's jobs
}


class Forbidden(Exception):
    """The role may not do this; the message names the role, the operation and who may."""

    def __init__(self, operation: str, user: User) -> None:
        roles = [r for r in Role if r in RULES[operation]]
        self.operation = operation
        self.role = user.role
        self.message = messages.text(
            "forbidden", role=messages.label("role", user.role), role_code=user.role,
            operation=messages.label("operation", operation), operation_code=operation,
            allowed="、".join(messages.label("role", r.value) for r in roles))
        super().__init__(self.message)


def allowed(user: User, operation: str) -> bool:
    return Role(user.role) in RULES[operation]


def require(user: User, operation: str) -> None:
    if operation not in RULES:
        raise KeyError(f"no permission rule for {operation!r}")
    if not allowed(user, operation):
        raise Forbidden(operation, user)
