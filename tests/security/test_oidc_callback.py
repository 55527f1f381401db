"""The staff sign-in callback from the attacker's side: provider error parameters, state, PKCE, nonce,
and forged or expired ID tokens, all through HTTP against the emulator (real MSAL, real JWKS)."""

from __future__ import annotations

import pytest

from tests.security.sign_in_support import SignInBrowser

POISON = "x\r\nInjected: 1\u202e"


def test_a_hostile_error_callback_cannot_break_sign_in_for_the_process(sign_in_portal: SignInBrowser) -> None:
    browser = sign_in_portal
    state = browser.state_of(browser.start())
    answer = browser.callback({"state": state, "error": POISON, "error_description": POISON * 50})
    assert answer.status_code == 400
    failure = browser.sign_in_failures()[-1]
    assert failure.reason == "provider_error:unrecognised"
    assert browser.token_requests() == []  # the error never reached MSAL, so nothing was sent for it

    browser.sign_in("Dana Desk")  # the same process, the same MSAL application: sign-in still works
    assert browser.client.get("/staff/desk/").status_code == 200
    for sent in browser.token_requests():
        assert "Injected" not in repr(sent["headers"]) and "\u202e" not in repr(sent["headers"])


def test_many_hostile_callbacks_in_a_row_then_a_normal_sign_in(sign_in_portal: SignInBrowser) -> None:
    browser = sign_in_portal
    for error in (POISON, "\u00e9\u202e", "a" * 5000, "%00", "access_denied\n"):
        state = browser.state_of(browser.start())
        assert browser.callback({"state": state, "error": error}).status_code == 400
    browser.sign_in("Morgan Manager")
    assert browser.client.get("/staff/starters/").status_code == 200


def test_a_plain_provider_error_is_reported_precisely_and_bounded(sign_in_portal: SignInBrowser) -> None:
    browser = sign_in_portal
    state = browser.state_of(browser.start())
    description = "AADSTS50105: Your administrator has configured the application to block users. \r\n" * 40
    assert browser.callback({"state": state, "error": "access_denied",
                             "error_description": description}).status_code == 400
    failure = browser.sign_in_failures()[-1]
    assert (failure.reason, failure.details) == ("provider_error:access_denied", {"aadsts": "AADSTS50105"})


def test_an_error_with_someone_elses_state_is_a_state_mismatch(sign_in_portal: SignInBrowser) -> None:
    browser = sign_in_portal
    browser.start()
    assert browser.callback({"state": "not-ours", "error": "access_denied"}).status_code == 400
    assert browser.sign_in_failures()[-1].reason == "state_mismatch"


def test_an_error_callback_without_a_pending_sign_in(sign_in_portal: SignInBrowser) -> None:
    browser = sign_in_portal
    assert browser.callback({"state": "whatever", "error": POISON}).status_code == 400
    assert browser.sign_in_failures()[-1].reason == "no_pending_sign_in"


def test_a_tampered_state_or_missing_code_is_refused(sign_in_portal: SignInBrowser) -> None:
    browser = sign_in_portal
    query = browser.authorize()
    assert browser.callback({**query, "state": query["state"] + "x"}).status_code == 400
    assert browser.sign_in_failures()[-1].reason == "state_mismatch"
    query = browser.authorize()
    assert browser.callback({"state": query["state"]}).status_code == 400
    assert browser.sign_in_failures()[-1].reason == "code_missing"


def test_a_code_cannot_be_replayed_nor_redeemed_by_another_browser(sign_in_portal: SignInBrowser) -> None:
    browser = sign_in_portal
    query = browser.authorize()
    stolen = dict(query)
    other = SignInBrowser(browser.runtime, browser.client.application.test_client(), browser.emulator)
    other.start()  # the thief has a pending sign-in of their own, with its own state and PKCE verifier
    assert other.callback(stolen).status_code == 400
    assert other.sign_in_failures()[-1].reason == "state_mismatch"
    assert browser.callback(query).status_code == 302
    assert browser.callback(query).status_code == 400  # single use


def test_pkce_is_sent_and_the_code_verifier_is_checked(sign_in_portal: SignInBrowser) -> None:
    browser = sign_in_portal
    authorize_url = browser.start()
    assert "code_challenge_method=S256" in authorize_url and "code_challenge=" in authorize_url
    browser.callback(browser.pick(authorize_url, "Dana Desk"))
    redeemed = browser.token_requests()[-1]
    assert redeemed["status"] == 200


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("alg_none", "id_token_invalid:algorithm"),
        ("hs256_with_public_key", "id_token_invalid:algorithm"),
        ("foreign_key", "id_token_invalid:signature"),
        ("unknown_kid", "id_token_invalid:unknown_key"),
        ("nbf_future", "id_token_invalid:nbf"),
        ("expired", "id_token_invalid:exp"),
        ("audiences_without_azp", "id_token_invalid:azp"),
        ("wrong_azp", "id_token_invalid:azp"),
        ("wrong_audience", "id_token_invalid:aud"),
        ("wrong_nonce", "id_token_invalid:nonce"),
        ("no_nonce", "id_token_invalid:nonce"),
        ("wrong_tenant", "id_token_invalid:tid"),
        ("wrong_issuer", "id_token_invalid:iss"),
    ],
)
def test_forged_or_expired_id_tokens_are_refused(sign_in_portal: SignInBrowser, kind: str, reason: str) -> None:
    browser = sign_in_portal
    query = browser.authorize()
    browser.emulator.post("id-token-faults", {"kind": kind})
    assert browser.callback(query).status_code == 400
    assert browser.cookie() is None
    assert browser.client.get("/staff/desk/").status_code == 302
    assert browser.sign_in_failures()[-1].reason == reason
    browser.sign_in()  # and the next, honest sign-in works
    assert browser.client.get("/staff/desk/").status_code == 200


def test_a_rolled_signing_key_is_fetched_when_a_token_names_it(sign_in_portal: SignInBrowser) -> None:
    browser = sign_in_portal
    browser.sign_in()
    browser.emulator.post("signing-keys/rotate")
    browser.client.post("/staff/sign-out", data={"csrf_token": browser.csrf_token()})
    browser.sign_in("Morgan Manager")
    jwks_fetches = [r for r in browser.emulator.requests_log() if r["path"].endswith("/discovery/v2.0/keys")]
    assert len(jwks_fetches) == 2  # cached for the first sign-in, fetched again for the new kid
