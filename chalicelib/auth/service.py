"""Verifying (and, for development, minting) bearer JWTs.

Locally tokens are HS256-signed with a development key from configuration; on AWS the same code checks
Cognito's RS256 tokens against the user pool's JWKS, fetched once per container and cached.
PyJWT is imported lazily: it pulls in cryptography, which would slow every cold start.
"""

from __future__ import annotations

import functools
import time
import uuid
from typing import Any

from chalicelib import config
from chalicelib.auth.domain import ROLES, Principal, role_from_groups
from chalicelib.errors import Unauthorized

LEEWAY_SECONDS = 30


def _bearer(header_value: str | None) -> str:
    if not header_value:
        raise Unauthorized("missing Authorization header")
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()


def verify_token(header_value: str | None) -> Principal:
    """Turn an Authorization header into a Principal, or raise Unauthorized."""
    token = _bearer(header_value)
    mode = config.get(config.AUTH_MODE, "dev")
    if mode == "cognito":
        claims = _verify_cognito(token)
    elif mode == "dev":
        claims = _verify_dev(token)
    else:
        raise Unauthorized(f"authentication mode '{mode}' is not configured")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("token has no subject")
    claimed = claims.get("role")
    role = claimed if mode == "dev" and claimed in ROLES else role_from_groups(claims.get("cognito:groups"))
    return Principal(sub=sub, role=str(role), email=str(claims.get("email") or ""))


def _dev_secret() -> str:
    secret = config.secret(config.DEV_JWT_SECRET)
    if len(secret) < 32:
        raise Unauthorized("development signing key is not configured (32+ characters)")
    return secret


def _verify_dev(token: str) -> dict[str, Any]:
    import jwt

    try:
        return jwt.decode(
            token,
            _dev_secret(),
            algorithms=["HS256"],
            audience=config.DEV_AUDIENCE,
            issuer=config.DEV_ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.PyJWTError as error:
        raise Unauthorized(f"invalid token: {error}") from None


@functools.cache
def _jwks_client(url: str) -> Any:
    from jwt import PyJWKClient

    return PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=3)


def _verify_cognito(token: str) -> dict[str, Any]:
    import jwt

    pool_id = config.get(config.COGNITO_USER_POOL_ID)
    client_id = config.get(config.COGNITO_APP_CLIENT_ID)
    if not pool_id or not client_id:
        raise Unauthorized("Cognito user pool is not configured")
    issuer = f"https://cognito-idp.{pool_id.split('_')[0]}.amazonaws.com/{pool_id}"
    try:
        signing_key = _jwks_client(f"{issuer}/.well-known/jwks.json").get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS256"],
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"verify_aud": False, "require": ["exp", "sub", "iss", "token_use"]},
        )
    except jwt.PyJWTError as error:
        raise Unauthorized(f"invalid token: {error}") from None
    # ID tokens carry the app client in "aud", access tokens in "client_id".
    token_use = claims.get("token_use")
    audience = claims.get("aud") if token_use == "id" else claims.get("client_id")
    if token_use not in ("id", "access") or audience != client_id:
        raise Unauthorized("token was not issued to this application")
    return claims


def mint_dev_token(*, role: str, sub: str | None = None, email: str = "", ttl_seconds: int = 12 * 3600) -> str:
    """A development token; refused outright unless the stage runs in dev auth mode."""
    import jwt

    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if config.get(config.AUTH_MODE, "dev") != "dev":
        raise RuntimeError("development tokens are only valid when TOKOFLOW_AUTH_MODE=dev")
    now = int(time.time())
    claims = {
        "sub": sub or f"{role}-{uuid.uuid4().hex[:12]}",
        "role": role,
        "email": email or f"{role}@tokokita.test",
        "iss": config.DEV_ISSUER,
        "aud": config.DEV_AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, _dev_secret(), algorithm="HS256")
