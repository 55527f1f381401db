"""Authentication methods, memberships, the TAP policy, and a local My Security Info (issue 16).

Graph side (token-checked like every Graph call):
- ``GET /users/{id}/authentication/methods``: password, the TAP (if any) and registered methods;
- ``GET /users/{id}/transitiveMemberOf``: groups and directory roles set through the control API;
- ``GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass``.

My Security Info (``/mysecurityinfo``, no token, a browser page like the real one): sign in with the
user's Temporary Access Pass (consumed when one-time), then register a simulated passkey or
Microsoft Authenticator, which then appears in the authentication methods.

Control: ``POST /_emulator/users/{key}/memberships`` and ``PUT /_emulator/tap-policy-targets``.
"""

from __future__ import annotations

import secrets
import time
import uuid
from html import escape

from flask import Blueprint, jsonify, request

from .context import ctx
from .graph_auth import odata_base, require_graph_token
from .graph_errors import not_found_user
from .graph_users import _tap_view
from .sign_in_page import _page
from .store import iso, utc_now

graph_bp = Blueprint("graph_security_info", __name__)
graph_bp.before_request(require_graph_token)
page_bp = Blueprint("my_security_info", __name__)
control_bp = Blueprint("security_info_control", __name__)

PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"  # noqa: S105 - Graph's fixed id of the password method
KINDS = {
    "passkey": ("#microsoft.graph.fido2AuthenticationMethod", "Passkey (simulated security key)"),
    "authenticator": ("#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
                      "Microsoft Authenticator (simulated phone)"),
}
TICKET_SECONDS = 600
DEFAULT_TARGETS = [{"targetType": "group", "id": "all_users", "isRegistrationRequired": False}]


def _user_or_404(key: str) -> dict:
    user = ctx().store.find_user(key)
    if user is None:
        raise not_found_user(key)
    return user


def _methods(store, user: dict) -> list[dict]:  # type: ignore[no-untyped-def]
    listed = [{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": PASSWORD_METHOD_ID,
               "password": None, "createdDateTime": user.get("createdDateTime")}]
    tap = store.tap_methods.get(user["id"])
    if tap is not None:
        listed.append({"@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod", **_tap_view(tap)})
    listed.extend(dict(method) for method in store.auth_methods.get(user["id"], []))
    return listed


@graph_bp.get("/users/<key>/authentication/methods")
def list_methods(key: str):
    store = ctx().store
    with store.lock:
        user = _user_or_404(key)
        value = _methods(store, user)
    return jsonify({"@odata.context": f"{odata_base()}/$metadata#users('{user['id']}')/authentication/methods",
                    "value": value})


@graph_bp.get("/users/<key>/transitiveMemberOf")
def transitive_member_of(key: str):
    store = ctx().store
    with store.lock:
        user = _user_or_404(key)
        value = [dict(item) for item in user.get("memberOf") or []]
    return jsonify({"@odata.context": f"{odata_base()}/$metadata#directoryObjects", "value": value})


@graph_bp.get("/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass")
def tap_configuration():
    store = ctx().store
    with store.lock:
        policy = dict(store.policy)
        targets = dict(store.tap_targets)
    return jsonify({
        "@odata.context": f"{odata_base()}/$metadata#policies/authenticationMethodsPolicy/"
                          "authenticationMethodConfigurations/$entity",
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
        "id": "TemporaryAccessPass",
        "state": targets.get("state", "enabled"),
        "defaultLifetimeInMinutes": policy["defaultLifetimeInMinutes"],
        "defaultLength": policy["defaultLength"],
        "minimumLifetimeInMinutes": policy["minimumLifetimeInMinutes"],
        "maximumLifetimeInMinutes": policy["maximumLifetimeInMinutes"],
        "isUsableOnce": policy["isUsableOnce"],
        "includeTargets": targets.get("includeTargets", DEFAULT_TARGETS),
        "excludeTargets": targets.get("excludeTargets", []),
    })


# -- control ------------------------------------------------------------------------------------


@control_bp.post("/users/<key>/memberships")
def add_membership(key: str):
    """``{"id": ..., "type": "group" | "directoryRole", "displayName": ...}``."""
    body = request.get_json(silent=True) or {}
    kind = body.get("type", "group")
    if not isinstance(body.get("id"), str) or kind not in ("group", "directoryRole"):
        return jsonify({"error": "give id and type group or directoryRole"}), 400
    store = ctx().store
    with store.lock:
        user = store.find_user(key) or store.find_by_employee_id(key)
        if user is None:
            return jsonify({"error": f"no user '{key}'"}), 404
        user.setdefault("memberOf", []).append(
            {"@odata.type": f"#microsoft.graph.{kind}", "id": body["id"], "displayName": body.get("displayName")})
        store.mark_dirty()
        return jsonify({"memberOf": user["memberOf"]})


@control_bp.put("/tap-policy-targets")
def put_tap_targets():
    """``{"state": "enabled"|"disabled", "includeTargets": [{"id": ...}], "excludeTargets": [...]}``."""
    body = request.get_json(silent=True) or {}
    unknown = set(body) - {"state", "includeTargets", "excludeTargets"}
    if unknown:
        return jsonify({"error": f"unknown fields: {sorted(unknown)}"}), 400
    store = ctx().store
    with store.lock:
        store.tap_targets = {**store.tap_targets, **body}
        store.mark_dirty()
        return jsonify(store.tap_targets)


# -- My Security Info (browser) ---------------------------------------------------------------------


def _sign_in_form(error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    notice = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return _page("My Security Info", (
        "<h1>My Security Info</h1>"
        "<p class=\"note\">Emulator: sign in with your work account and your Temporary Access Pass, then "
        "add a passkey or Microsoft Authenticator.</p>" + notice +
        '<form method="post" action="/mysecurityinfo/sign-in">'
        '<p><label for="upn">Work account</label><br>'
        '<input id="upn" name="upn" type="email" autocomplete="username" required></p>'
        '<p><label for="tap">Temporary Access Pass</label><br>'
        '<input id="tap" name="tap" type="password" autocomplete="one-time-code" required></p>'
        '<p><button class="account" type="submit">Sign in</button></p></form>'
    ), status)


@page_bp.get("/mysecurityinfo")
def my_security_info():
    return _sign_in_form()


@page_bp.post("/mysecurityinfo/sign-in")
def sign_in():
    upn = request.form.get("upn", "")[:256]
    value = request.form.get("tap", "")[:64]
    store = ctx().store
    with store.lock:
        user = store.find_user(upn) if upn else None
        method = store.tap_methods.get(user["id"]) if user else None
        usable = bool(method) and _tap_view(method)["isUsable"] and bool(user and user.get("accountEnabled"))
        if not (usable and store.tap_matches(method["id"], value)):  # type: ignore[index]
            return _sign_in_form("That did not work: check the account and the Temporary Access Pass.", 401)
        if method.get("isUsableOnce"):  # type: ignore[union-attr]
            method["used"] = True  # type: ignore[index]
        method["lastUsedDateTime"] = iso(utc_now())  # type: ignore[index]
        ticket = secrets.token_urlsafe(24)
        store.security_info_tickets[ticket] = (user["id"], time.time() + TICKET_SECONDS)  # type: ignore[index]
        store.mark_dirty()
        name = user.get("displayName") or upn  # type: ignore[union-attr]
    buttons = "".join(
        f'<form method="post" action="/mysecurityinfo/register"><input type="hidden" name="ticket" '
        f'value="{escape(ticket)}"><input type="hidden" name="kind" value="{kind}">'
        f'<button class="account" type="submit">Add {escape(label)}</button></form>'
        for kind, (_, label) in KINDS.items()
    )
    return _page("My Security Info", f"<h1>Security info for {escape(name)}</h1>"
                 "<p>Add a way to sign in without your Temporary Access Pass.</p>" + buttons)


@page_bp.post("/mysecurityinfo/register")
def register():
    ticket, kind = request.form.get("ticket", ""), request.form.get("kind", "")
    store = ctx().store
    with store.lock:
        entry = store.security_info_tickets.pop(ticket, None)
        if entry is None or entry[1] < time.time() or kind not in KINDS:
            return _sign_in_form("Your session ended: sign in again.", 401)
        odata_type, label = KINDS[kind]
        method = {"@odata.type": odata_type, "id": str(uuid.uuid4()), "displayName": label,
                  "createdDateTime": iso(utc_now())}
        store.auth_methods.setdefault(entry[0], []).append(method)
        store.mark_dirty()
    return _page("My Security Info", f"<h1>{escape(label)} added</h1>"
                 "<p>You can now sign in with it. Your Temporary Access Pass is no longer needed.</p>")
