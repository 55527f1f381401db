"""ID token verification without a provider: local keys, an injected clock, the skew at its edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from activation.clock import FakeClock
from activation.staff.id_token import Expected, IdTokenInvalid, JwksSigningKeys, nonce_hash, verify_id_token

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EXPECTED = Expected(issuer="https://login.example/tenant-1/v2.0", tenant_id="tenant-1", client_id="client-1")
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class LocalKeys:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def key_for(self, kid: str) -> jwt.PyJWK | None:
        self.asked.append(kid)
        return jwt.PyJWK.from_dict({**jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True),
                                    "kid": "k1"}) if kid == "k1" else None


def token(**changes: object) -> str:
    at = int(NOW.timestamp())
    claims: dict[str, object] = {"iss": EXPECTED.issuer, "aud": "client-1", "tid": "tenant-1", "oid": "oid-1",
                                 "iat": at, "nbf": at, "exp": at + 3600, "nonce": nonce_hash("n-1")}
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, KEY, algorithm="RS256",
                      headers={"kid": "k1"})


def verify(raw: str, now: datetime = NOW) -> dict:
    return verify_id_token(raw, LocalKeys(), EXPECTED, "n-1", now)


def test_a_good_token_gives_its_claims() -> None:
    assert verify(token())["oid"] == "oid-1"


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(timedelta(seconds=-30), True), (timedelta(seconds=-59), True), (timedelta(seconds=-200), False),
     (timedelta(hours=-1), False)],
)
def test_expiry_allows_only_a_small_skew(offset: timedelta, accepted: bool) -> None:
    exp = int((NOW + offset).timestamp())
    raw = token(exp=exp, iat=exp - 300, nbf=exp - 300)
    if accepted:
        verify(raw)
    else:
        with pytest.raises(IdTokenInvalid, match="exp"):
            verify(raw)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"nbf": int(NOW.timestamp()) + 600}, "nbf"),
        ({"iat": int(NOW.timestamp()) + 600}, "iat"),
        ({"iat": int(NOW.timestamp()) - 3600}, "iat"),  # an old token replayed from somewhere
        ({"aud": ["client-1", "other"]}, "azp"),
        ({"aud": ["client-1", "other"], "azp": "other"}, "azp"),
        ({"tid": "tenant-2"}, "tid"),
        ({"iss": "https://login.example/tenant-2/v2.0"}, "iss"),
        ({"nonce": nonce_hash("n-2")}, "nonce"),
        ({"nonce": None}, "missing:nonce"),
        ({"exp": None}, "missing:exp"),
        ({"exp": "tomorrow"}, "exp"),
    ],
)
def test_claims_are_checked(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(IdTokenInvalid) as refused:
        verify(token(**changes))
    assert refused.value.reason == reason


def test_several_audiences_with_our_azp_are_accepted() -> None:
    assert verify(token(aud=["client-1", "other"], azp="client-1"))["azp"] == "client-1"


class Response:
    def __init__(self, body: dict) -> None:
        self.body = body

    def raise_for_status(self) -> None:
        return None

    def json(self) -> dict:
        return self.body


class FakeHttp:
    """Stands in for the requests session: a discovery document and a JWKS that can change."""

    def __init__(self) -> None:
        self.kids = ["k1"]
        self.fetches = 0

    def get(self, url: str, timeout: float) -> Response:
        if url.endswith("openid-configuration"):
            return Response({"jwks_uri": "https://login.example/keys"})
        self.fetches += 1
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
        return Response({"keys": [{**jwk, "kid": kid, "use": "sig"} for kid in self.kids]})


def test_keys_are_cached_and_fetched_again_for_an_unknown_kid_or_after_a_day() -> None:
    http, clock = FakeHttp(), FakeClock(NOW)
    keys = JwksSigningKeys(http, "https://login.example/tenant-1/v2.0/.well-known/openid-configuration", clock)  # type: ignore[arg-type]
    assert keys.key_for("k1") is not None and keys.key_for("k1") is not None
    assert http.fetches == 1
    http.kids = ["k1", "k2"]
    assert keys.key_for("k2") is not None and http.fetches == 2
    clock.advance(25 * 3600)
    keys.key_for("k1")
    assert http.fetches == 3
    assert keys.key_for("nope") is None
