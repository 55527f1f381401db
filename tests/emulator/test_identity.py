"""Entra ID endpoints through real MSAL and plain requests."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from .conftest import app_token, http_session, msal_app

REDIRECT = "http://localhost:5000/auth/callback"
# MSAL nudges towards form_post; query mode is what these tests exercise (form_post has its own test)
pytestmark = pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended")


def test_client_credentials_with_secret(info, session):
    result = msal_app(info, session).acquire_token_for_client(scopes=[f"{info.base_url}/.default"])
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] > 3000
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == info.base_url
    assert claims["tid"] == info.tenant_id
    assert claims["appid"] == info.client_id
    assert "SynchronizationData-User.Upload" in claims["roles"]


def test_access_token_verifies_against_jwks(info, session):
    token = app_token(info, session)
    config = session.get(f"{info.base_url}/{info.tenant_id}/v2.0/.well-known/openid-configuration").json()
    assert config["issuer"] == f"{info.base_url}/{info.tenant_id}/v2.0"
    assert config["token_endpoint"] == f"{info.base_url}/{info.tenant_id}/oauth2/v2.0/token"
    assert config["end_session_endpoint"] == f"{info.base_url}/{info.tenant_id}/oauth2/v2.0/logout"
    keys = session.get(config["jwks_uri"]).json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK({k: v for k, v in keys[0].items() if k != "issuer"})
    assert keys[0]["kid"] == kid
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=info.base_url, issuer=config["issuer"])
    assert claims["exp"] > claims["iat"]


@pytest.mark.parametrize("with_thumbprint", [True, False], ids=["sha1-thumbprint", "public-certificate"])
def test_client_credentials_with_certificate(info, session, with_thumbprint):
    pem = Path(info.client_certificate_path).read_text()
    credential = {"private_key": pem}
    if with_thumbprint:
        credential["thumbprint"] = info.client_certificate_thumbprint
    else:
        credential["public_certificate"] = pem
    result = msal_app(info, session, credential).acquire_token_for_client(
        scopes=["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["appidacr"] == "2"


def test_wrong_certificate_is_rejected(info, session, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    credential = {"private_key": other, "thumbprint": info.client_certificate_thumbprint}
    result = msal_app(info, session, credential).acquire_token_for_client(scopes=[f"{info.base_url}/.default"])
    assert result["error"] == "invalid_client"
    assert 700027 in result["error_codes"]


def test_wrong_secret_fails_with_aadsts7000215(info, session):
    result = msal_app(info, session, "not-the-secret").acquire_token_for_client(
        scopes=[f"{info.base_url}/.default"])
    assert result["error"] == "invalid_client"
    assert "AADSTS7000215" in result["error_description"]


def test_bad_scope_fails_with_aadsts70011(info, session):
    response = session.post(
        f"{info.base_url}/{info.tenant_id}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": info.client_id,
              "client_secret": info.client_secret, "scope": "User.Read"},
    )
    assert response.status_code == 400
    assert response.json()["error_codes"] == [70011]


def test_unknown_tenant(info, session):
    response = session.get(f"{info.base_url}/not-a-tenant/v2.0/.well-known/openid-configuration")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["error_codes"] == [90002]
    assert body["error_description"].startswith("AADSTS90002: Tenant 'not-a-tenant' not found.")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)
    import msal

    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal.ConfidentialClientApplication(
            info.client_id, client_credential=info.client_secret,
            authority=f"{info.base_url}/not-a-tenant", instance_discovery=False, http_client=session)


def _pick_account(session, auth_uri: str, display_name: str) -> dict:
    page = session.get(auth_uri)
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "<script" not in page.text
    assert "script-src" not in page.headers["Content-Security-Policy"]
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    oid = re.search(rf'name="account" value="([^"]+)">Sign in as {display_name}', page.text).group(1)
    response = session.post(f"{auth_uri.split('/', 3)[0]}//{urlsplit(auth_uri).netloc}{action}",
                            data={"account": oid}, allow_redirects=False)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_auth_code_flow_with_pkce_and_nonce(info, session):
    app = msal_app(info, session)
    flow = app.initiate_auth_code_flow(scopes=["User.Read"], redirect_uri=REDIRECT)
    params = _pick_account(session, flow["auth_uri"], "Dana Desk")
    assert params["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert "access_token" in result, result
    claims = result["id_token_claims"]
    assert claims["aud"] == info.client_id
    assert claims["iss"] == f"{info.base_url}/{info.tenant_id}/v2.0"
    assert claims["tid"] == info.tenant_id
    assert claims["preferred_username"] == "dana.desk@contoso.example"
    assert claims["name"] == "Dana Desk"
    assert claims["roles"] == ["ServiceDesk"]
    assert claims["oid"] == claims["sub"]
    account = app.get_accounts()[0]
    assert account["home_account_id"] == f"{claims['oid']}.{info.tenant_id}"


def test_manager_id_token_has_no_roles_claim(info, session):
    app = msal_app(info, session)
    flow = app.initiate_auth_code_flow(scopes=["User.Read"], redirect_uri=REDIRECT)
    result = app.acquire_token_by_auth_code_flow(flow, _pick_account(session, flow["auth_uri"], "Morgan Manager"))
    assert "roles" not in result["id_token_claims"]


def test_tampered_state_fails(info, session):
    app = msal_app(info, session)
    flow = app.initiate_auth_code_flow(scopes=["User.Read"], redirect_uri=REDIRECT)
    params = _pick_account(session, flow["auth_uri"], "Dana Desk")
    params["state"] = "tampered"
    with pytest.raises(ValueError, match="state"):
        app.acquire_token_by_auth_code_flow(flow, params)


def test_wrong_nonce_fails(info, session):
    app = msal_app(info, session)
    flow = app.initiate_auth_code_flow(scopes=["User.Read"], redirect_uri=REDIRECT)
    params = _pick_account(session, flow["auth_uri"], "Dana Desk")
    flow["nonce"] = "some-other-nonce"
    with pytest.raises(RuntimeError, match="nonce"):
        app.acquire_token_by_auth_code_flow(flow, params)


def _redeem(info, session, **overrides):
    data = {"grant_type": "authorization_code", "client_id": info.client_id,
            "client_secret": info.client_secret, "redirect_uri": REDIRECT, **overrides}
    return session.post(f"{info.base_url}/{info.tenant_id}/oauth2/v2.0/token", data=data)


def test_code_is_single_use_and_pkce_is_checked(info, session):
    app = msal_app(info, session)
    flow = app.initiate_auth_code_flow(scopes=["User.Read"], redirect_uri=REDIRECT)
    code = _pick_account(session, flow["auth_uri"], "Dana Desk")["code"]
    bad = _redeem(info, session, code=code, code_verifier="wrong-verifier")
    assert bad.status_code == 400
    assert bad.json()["error_codes"] == [501481]
    again = _redeem(info, session, code=code, code_verifier=flow["code_verifier"])
    assert again.json()["error"] == "invalid_grant"
    assert again.json()["error_codes"] == [54005]
    unknown = _redeem(info, session, code="nope", code_verifier=flow["code_verifier"])
    assert unknown.json()["error_codes"] == [70008]


def test_redirect_uri_must_match(info, session):
    app = msal_app(info, session)
    flow = app.initiate_auth_code_flow(scopes=["User.Read"], redirect_uri=REDIRECT)
    code = _pick_account(session, flow["auth_uri"], "Dana Desk")["code"]
    response = _redeem(info, session, code=code, code_verifier=flow["code_verifier"],
                       redirect_uri="http://localhost:5000/elsewhere")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_authorize_unknown_client_shows_error_page(info, session):
    response = session.get(f"{info.base_url}/{info.tenant_id}/oauth2/v2.0/authorize",
                           params={"client_id": "unknown", "response_type": "code", "redirect_uri": REDIRECT})
    assert response.status_code == 400
    assert "AADSTS700016" in response.text


def test_authorize_requires_pkce(info, session):
    response = session.get(f"{info.base_url}/{info.tenant_id}/oauth2/v2.0/authorize",
                           params={"client_id": info.client_id, "response_type": "code",
                                   "redirect_uri": REDIRECT, "state": "s1", "scope": "openid"},
                           allow_redirects=False)
    assert response.status_code == 302
    params = parse_qs(urlsplit(response.headers["Location"]).query)
    assert params["error"] == ["invalid_request"]
    assert params["state"] == ["s1"]


def test_logout_redirects(info, session):
    response = session.get(f"{info.base_url}/{info.tenant_id}/oauth2/v2.0/logout",
                           params={"post_logout_redirect_uri": "http://localhost:5000/bye"},
                           allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "http://localhost:5000/bye"
    page = session.get(f"{info.base_url}/{info.tenant_id}/oauth2/v2.0/logout")
    assert page.status_code == 200 and "signed out" in page.text


def test_fresh_session_with_system_bundle_env(info, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    session = http_session(info)
    assert app_token(info, session)


def test_auth_code_flow_form_post(info, session):
    app = msal_app(info, session)
    flow = app.initiate_auth_code_flow(scopes=["User.Read"], redirect_uri=REDIRECT, response_mode="form_post")
    page = session.get(flow["auth_uri"])
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    oid = re.search(r'name="account" value="([^"]+)">Sign in as Dana', page.text).group(1)
    response = session.post(f"{info.base_url}{action}", data={"account": oid}, allow_redirects=False)
    assert response.status_code == 200
    assert f'action="{REDIRECT}"' in response.text and "<script" not in response.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', response.text))
    result = app.acquire_token_by_auth_code_flow(flow, fields)
    assert result["id_token_claims"]["roles"] == ["ServiceDesk"]


def test_disabled_staff_cannot_sign_in(info, session):
    session.patch(f"{info.base_url}/_emulator/users/SD001", json={"accountEnabled": False})
    app = msal_app(info, session)
    flow = app.initiate_auth_code_flow(scopes=["User.Read"], redirect_uri=REDIRECT)
    result = app.acquire_token_by_auth_code_flow(flow, _pick_account(session, flow["auth_uri"], "Dana Desk"))
    assert result["error"] == "invalid_grant"
