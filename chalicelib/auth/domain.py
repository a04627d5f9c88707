"""The caller of a request and what their role lets them do."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.errors import Forbidden, Unauthorized

CUSTOMER = "customer"
STAFF = "staff"
ADMIN = "admin"
FINANCE = "finance"
ROLES = (CUSTOMER, STAFF, ADMIN, FINANCE)

# When a user sits in several Cognito groups, the most powerful one decides.
ROLE_PRIORITY = (ADMIN, STAFF, FINANCE, CUSTOMER)


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    email: str = ""

    @property
    def is_staff(self) -> bool:
        return self.role in (STAFF, ADMIN)

    def to_context(self) -> dict[str, str]:
        """Authorizer context values must be strings (API Gateway drops anything else)."""
        return {"sub": self.sub, "role": self.role, "email": self.email}

    @classmethod
    def from_context(cls, context: dict[str, object]) -> Principal | None:
        sub = context.get("sub") or context.get("principalId")
        role = context.get("role")
        if not sub or role not in ROLES:
            return None
        return cls(sub=str(sub), role=str(role), email=str(context.get("email") or ""))


def role_from_groups(groups: object) -> str:
    members = set(groups) if isinstance(groups, list) else set()
    return next((role for role in ROLE_PRIORITY if role in members), CUSTOMER)


def require_role(principal: Principal | None, *roles: str) -> Principal:
    """Admins may do anything staff may do; every other role is exactly what it says."""
    if principal is None:
        raise Unauthorized("sign in first: send Authorization: Bearer <token>")
    allowed = set(roles)
    if STAFF in allowed:
        allowed.add(ADMIN)
    if principal.role not in allowed:
        raise Forbidden(f"role '{principal.role}' may not do this; needs one of {', '.join(sorted(allowed))}")
    return principal
