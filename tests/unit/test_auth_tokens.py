"""chalicelib.auth.service: development HS256 tokens and Cognito RS256 tokens become a Principal or are refused.

No network: in Cognito mode the JWKS client is replaced by one that hands out a locally generated public key.
"""

from __future__ import annotations

import base64
import json
import os
import time
import warnings
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.warnings import InsecureKeyLengthWarning

from chalicelib.auth import ROLES, Principal, mint_dev_token, verify_token
from chalicelib.auth import service as tokens
from chalicelib.errors import Unauthorized

POOL_ID = "ap-southeast-3_TokoTest1"
CLIENT_ID = "7tokoflowappclient"
ISSUER = f"https://cognito-idp.ap-southeast-3.amazonaws.com/{POOL_ID}"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _bearer(token: str) -> str:
    return f"Bearer {token}"


# ---- development tokens -----------------------------------------------------------------------------------


def dev_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "user-1", "role": "staff", "email": "staff@tokokita.test", "iss": "tokoflow-local",
              "aud": "tokoflow", "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def dev_token(claims: dict[str, Any], *, key: str | None = None, algorithm: str = "HS256") -> str:
    """Signed with the development key from the environment (or `key`); short test keys are meant, not warned."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, key or os.environ["TOKOFLOW_DEV_JWT_SECRET"], algorithm=algorithm)


@pytest.mark.parametrize("role", ROLES)
def test_a_minted_dev_token_round_trips_to_the_same_principal(role: str) -> None:
    token = mint_dev_token(role=role, sub=f"{role}-42", email=f"{role}@example.com")
    assert verify_token(_bearer(token)) == Principal(sub=f"{role}-42", role=role, email=f"{role}@example.com")


def test_a_minted_dev_token_without_a_subject_gets_a_unique_one() -> None:
    first = verify_token(_bearer(mint_dev_token(role="customer")))
    second = verify_token(_bearer(mint_dev_token(role="customer")))
    assert first.sub.startswith("customer-") and second.sub.startswith("customer-")
    assert first.sub != second.sub
    assert first.email == "customer@tokokita.test"


def test_the_bearer_scheme_is_case_insensitive_and_surrounding_space_is_ignored() -> None:
    token = mint_dev_token(role="admin", sub="a-1")
    assert verify_token(f"  bearer {token}  ").role == "admin"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Token abc", "abc"],
                         ids=["none", "empty", "scheme-only", "blank-token", "basic", "other-scheme", "no-scheme"])
def test_a_missing_or_malformed_authorization_header_is_refused(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        verify_token(header)


def test_a_token_just_past_its_expiry_is_accepted_within_the_leeway() -> None:
    now = int(time.time())
    claims = dev_claims(iat=now - 600, exp=now - tokens.LEEWAY_SECONDS + 10)
    assert verify_token(_bearer(dev_token(claims))).sub == "user-1"


@pytest.mark.parametrize("token", [
    pytest.param(dev_token(dev_claims(aud="someone-else")), id="wrong-audience"),
    pytest.param(dev_token(dev_claims(aud=None)), id="no-audience"),
    pytest.param(dev_token(dev_claims(iss="https://evil.example")), id="wrong-issuer"),
    pytest.param(dev_token(dev_claims(iss=None)), id="no-issuer"),
    pytest.param(dev_token(dev_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)), id="expired"),
    pytest.param(dev_token(dev_claims(exp=None)), id="no-expiry"),
    pytest.param(dev_token(dev_claims(sub=None)), id="no-subject"),
    pytest.param(dev_token(dev_claims(sub="")), id="empty-subject"),
    pytest.param(dev_token(dev_claims(nbf=int(time.time()) + 3600)), id="not-yet-valid"),
    pytest.param(dev_token(dev_claims(), key="another-signing-key-of-at-least-32-characters"), id="other-key"),
    pytest.param(dev_token(dev_claims(), algorithm="HS512"), id="other-hmac-algorithm"),
    pytest.param(f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(dev_claims())}.", id="none-algorithm"),
    pytest.param(f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(dev_claims())}.", id="signature-stripped"),
    pytest.param("not-a-jwt", id="garbage"),
    pytest.param("a.b.c", id="three-garbage-segments"),
])
def test_a_dev_token_that_does_not_verify_is_refused(token: str) -> None:
    with pytest.raises(Unauthorized):
        verify_token(_bearer(token))


def test_a_tampered_payload_is_refused() -> None:
    header, _, signature = mint_dev_token(role="customer", sub="c-1").split(".")
    forged = f"{header}.{_b64(dev_claims(role='admin', sub='c-1'))}.{signature}"
    with pytest.raises(Unauthorized):
        verify_token(_bearer(forged))


@pytest.mark.parametrize("role_claim", [None, "root", ["admin"]], ids=["no-role", "unknown-role", "role-as-list"])
def test_a_dev_token_without_a_known_role_is_a_customer(role_claim: Any) -> None:
    assert verify_token(_bearer(dev_token(dev_claims(role=role_claim)))).role == "customer"


def test_dev_tokens_are_refused_when_the_signing_key_is_too_short(monkeypatch: pytest.MonkeyPatch) -> None:
    token = dev_token(dev_claims(), key="short")
    monkeypatch.setenv("TOKOFLOW_DEV_JWT_SECRET", "short")
    with pytest.raises(Unauthorized, match="signing key"):
        verify_token(_bearer(token))


def test_an_unknown_auth_mode_refuses_every_token(monkeypatch: pytest.MonkeyPatch) -> None:
    token = mint_dev_token(role="admin")
    monkeypatch.setenv("TOKOFLOW_AUTH_MODE", "open")
    with pytest.raises(Unauthorized, match="not configured"):
        verify_token(_bearer(token))


def test_mint_dev_token_refuses_an_unknown_role() -> None:
    with pytest.raises(ValueError, match="role"):
        mint_dev_token(role="root")


@pytest.mark.parametrize("mode", ["cognito", "something-else"])
def test_mint_dev_token_refuses_outside_dev_mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("TOKOFLOW_AUTH_MODE", mode)
    with pytest.raises(RuntimeError, match="TOKOFLOW_AUTH_MODE=dev"):
        mint_dev_token(role="admin")


# ---- Cognito tokens ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_keys() -> SimpleNamespace:
    """The user pool's signing key, and a stranger's."""
    return SimpleNamespace(
        pool=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        stranger=rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture
def cognito(monkeypatch: pytest.MonkeyPatch, rsa_keys: SimpleNamespace) -> SimpleNamespace:
    """Cognito mode with a fake JWKS client that always returns the pool's public key; records the JWKS URLs."""
    monkeypatch.setenv("TOKOFLOW_AUTH_MODE", "cognito")
    monkeypatch.setenv("TOKOFLOW_COGNITO_USER_POOL_ID", POOL_ID)
    monkeypatch.setenv("TOKOFLOW_COGNITO_APP_CLIENT_ID", CLIENT_ID)
    jwks_urls: list[str] = []

    class FakeJwksClient:
        def get_signing_key_from_jwt(self, token: str) -> SimpleNamespace:
            return SimpleNamespace(key=rsa_keys.pool.public_key())

    def fake_jwks_client(url: str) -> FakeJwksClient:
        jwks_urls.append(url)
        return FakeJwksClient()

    monkeypatch.setattr(tokens, "_jwks_client", fake_jwks_client)
    return SimpleNamespace(jwks_urls=jwks_urls, keys=rsa_keys)


def id_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "1b2c3d4e-cognito-user", "token_use": "id", "aud": CLIENT_ID, "iss": ISSUER,
              "email": "sari@example.com", "cognito:groups": ["customer"], "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def access_claims(**overrides: Any) -> dict[str, Any]:
    base = id_claims(token_use="access", aud=None, client_id=CLIENT_ID, email=None)
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def rs256(claims: dict[str, Any], key: Any) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "pool-key-1"})


def test_a_cognito_id_token_verifies_against_the_pools_jwks(cognito: SimpleNamespace) -> None:
    principal = verify_token(_bearer(rs256(id_claims(), cognito.keys.pool)))
    assert principal == Principal(sub="1b2c3d4e-cognito-user", role="customer", email="sari@example.com")
    assert cognito.jwks_urls == [f"{ISSUER}/.well-known/jwks.json"]


def test_a_cognito_access_token_verifies_by_its_client_id(cognito: SimpleNamespace) -> None:
    principal = verify_token(_bearer(rs256(access_claims(**{"cognito:groups": ["staff"]}), cognito.keys.pool)))
    assert (principal.sub, principal.role, principal.email) == ("1b2c3d4e-cognito-user", "staff", "")


@pytest.mark.parametrize("claims", [
    pytest.param(id_claims(aud="another-app-client"), id="id-token-for-another-client"),
    pytest.param(id_claims(aud=None, client_id=CLIENT_ID), id="id-token-with-client-id-instead-of-aud"),
    pytest.param(access_claims(client_id="another-app-client"), id="access-token-for-another-client"),
    pytest.param(access_claims(client_id=None, aud=CLIENT_ID), id="access-token-with-aud-instead-of-client-id"),
    pytest.param(id_claims(token_use="refresh"), id="unknown-token-use"),
    pytest.param(id_claims(token_use=None), id="no-token-use"),
    pytest.param(id_claims(iss="https://cognito-idp.ap-southeast-3.amazonaws.com/ap-southeast-3_Other"),
                 id="another-user-pool"),
    pytest.param(id_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), id="expired"),
    pytest.param(id_claims(exp=None), id="no-expiry"),
    pytest.param(id_claims(sub=None), id="no-subject"),
])
def test_a_cognito_token_with_the_wrong_claims_is_refused(cognito: SimpleNamespace, claims: dict[str, Any]) -> None:
    with pytest.raises(Unauthorized):
        verify_token(_bearer(rs256(claims, cognito.keys.pool)))


def test_a_cognito_token_signed_by_another_key_is_refused(cognito: SimpleNamespace) -> None:
    with pytest.raises(Unauthorized):
        verify_token(_bearer(rs256(id_claims(), cognito.keys.stranger)))


def test_a_dev_token_is_refused_in_cognito_mode(cognito: SimpleNamespace) -> None:
    with pytest.raises(Unauthorized):
        verify_token(_bearer(dev_token(dev_claims(role="admin"))))


def test_an_unsigned_token_is_refused_in_cognito_mode(cognito: SimpleNamespace) -> None:
    with pytest.raises(Unauthorized):
        verify_token(_bearer(f"{_b64({'alg': 'none', 'kid': 'pool-key-1'})}.{_b64(id_claims())}."))


def test_a_jwks_lookup_failure_is_refused_not_raised(cognito: SimpleNamespace,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    class UnreachableJwks:
        def get_signing_key_from_jwt(self, token: str) -> Any:
            raise jwt.PyJWKClientConnectionError("Fail to fetch data from the url")

    monkeypatch.setattr(tokens, "_jwks_client", lambda url: UnreachableJwks())
    with pytest.raises(Unauthorized):
        verify_token(_bearer(rs256(id_claims(), cognito.keys.pool)))


@pytest.mark.parametrize(("groups", "role"), [
    (["customer", "finance", "staff", "admin"], "admin"),
    (["finance", "admin"], "admin"),
    (["customer", "staff", "finance"], "staff"),
    (["customer", "finance"], "finance"),
    (["customer"], "customer"),
    ([], "customer"),
    (None, "customer"),
    (["warehouse", "Admin"], "customer"),
])
def test_cognito_groups_decide_the_role_most_powerful_first(cognito: SimpleNamespace, groups: Any,
                                                            role: str) -> None:
    claims = id_claims(**{"cognito:groups": groups})  # None leaves the claim out
    assert verify_token(_bearer(rs256(claims, cognito.keys.pool))).role == role


def test_a_role_claim_is_ignored_in_cognito_mode(cognito: SimpleNamespace) -> None:
    claims = id_claims(role="admin", **{"cognito:groups": ["customer"]})
    assert verify_token(_bearer(rs256(claims, cognito.keys.pool))).role == "customer"


@pytest.mark.parametrize("missing", ["TOKOFLOW_COGNITO_USER_POOL_ID", "TOKOFLOW_COGNITO_APP_CLIENT_ID"])
def test_cognito_mode_without_a_configured_pool_refuses_every_token(cognito: SimpleNamespace,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    missing: str) -> None:
    monkeypatch.delenv(missing)
    with pytest.raises(Unauthorized, match="not configured"):
        verify_token(_bearer(rs256(id_claims(), cognito.keys.pool)))
    assert cognito.jwks_urls == []
