"""Graph users: read, look up by employeeId, PATCH (enable, password), TAP methods, sessions, mail."""

from __future__ import annotations

import datetime as dt
import secrets
import string
import uuid

from flask import Blueprint, Response, jsonify, request

from . import odata_filter
from .context import ctx
from .graph_auth import odata_base, require_graph_token
from .graph_errors import GraphError, not_found_user
from .store import GRAPH_USER_FIELDS, graph_user_view, iso, utc_now

bp = Blueprint("graph_users", __name__)
bp.before_request(require_graph_token)

ON_PREM_MESSAGE = (
    "Unable to update the specified properties for on-premises mastered Directory Sync objects or "
    "objects currently undergoing migration."
)
COMPLEXITY_MESSAGE = (
    "The specified password does not comply with password complexity requirements. "
    "Please provide a different password."
)
PATCHABLE = {
    "accountEnabled", "passwordProfile", "displayName", "givenName", "surname", "jobTitle",
    "department", "companyName", "usageLocation", "employeeId", "mail", "userPrincipalName",
}
CLOUD_ONLY_WHEN_SYNCED = PATCHABLE - {"usageLocation"}
USER_FILTER_FIELDS = {"employeeid", "userprincipalname", "id", "mail", "displayname"}
TAP_SYMBOLS = "!#$%&*+-=?@"


def _bad_request(message: str, code: str = "Request_BadRequest") -> GraphError:
    return GraphError(400, code, message)


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _bad_request("Unable to read JSON request payload. Please ensure Content-Type header is "
                           "set and payload is of valid JSON format.", "BadRequest")
    return body


def _user_or_404(key: str) -> dict:
    user = ctx().store.find_user(key)
    if user is None:
        raise not_found_user(key)
    return user


def _select(view: dict) -> dict:
    raw = request.args.get("$select")
    if not raw:
        return view
    wanted = [name.strip() for name in raw.split(",") if name.strip()]
    return {name: view[name] for name in wanted if name in view}


# -- users -------------------------------------------------------------------------------------


@bp.get("/users")
def list_users():
    store = ctx().store
    try:
        clauses = odata_filter.parse(request.args.get("$filter", ""))
    except odata_filter.FilterError as exc:
        raise _bad_request(str(exc), "Request_UnsupportedQuery") from exc
    for field, _ in clauses:
        if field.lower() not in USER_FILTER_FIELDS:
            raise _bad_request(f"Unsupported or invalid query filter clause specified for property "
                               f"'{field}' of resource 'User'.", "Request_UnsupportedQuery")
    try:
        top = int(request.args.get("$top", "100"))
    except ValueError as exc:
        raise _bad_request("Invalid $top value.") from exc
    lookup = {name.lower(): name for name in GRAPH_USER_FIELDS}
    with store.lock:
        users = [
            graph_user_view(u)
            for u in store.users.values()
            if all(
                (str(u.get(lookup[f.lower()]) or "").lower() == str(v).lower()) if f.lower() != "id"
                else u["id"] == v
                for f, v in clauses
            )
        ]
    return jsonify(
        {"@odata.context": f"{odata_base()}/$metadata#users", "value": [_select(u) for u in users[:top]]}
    )


@bp.get("/users/<key>")
def get_user(key: str):
    with ctx().store.lock:
        view = graph_user_view(_user_or_404(key))
    return jsonify({"@odata.context": f"{odata_base()}/$metadata#users/$entity", **_select(view)})


@bp.get("/users/<key>/manager")
def get_manager(key: str):
    store = ctx().store
    with store.lock:
        user = _user_or_404(key)
        manager = store.users.get(user.get("managerId") or "")
        if manager is None:
            raise not_found_user("manager")
        view = graph_user_view(manager)
    return jsonify({"@odata.context": f"{odata_base()}/$metadata#directoryObjects/$entity",
                    "@odata.type": "#microsoft.graph.user", **_select(view)})


def password_is_complex(password: str) -> bool:
    if not 8 <= len(password) <= 256:
        return False
    classes = [
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    ]
    return sum(classes) >= 3


@bp.patch("/users/<key>")
def patch_user(key: str):
    body = _json_body()
    store = ctx().store
    with store.lock:
        user = _user_or_404(key)
        for name in body:
            if name not in PATCHABLE:
                raise _bad_request(f"Property '{name}' does not exist on type 'microsoft.graph.user' "
                                   "or cannot be updated.")
        if user.get("onPremisesSyncEnabled") and set(body) & CLOUD_ONLY_WHEN_SYNCED:
            raise _bad_request(ON_PREM_MESSAGE)
        if "accountEnabled" in body and not isinstance(body["accountEnabled"], bool):
            raise _bad_request("Invalid value specified for property 'accountEnabled' of resource 'User'.")
        profile = body.get("passwordProfile")
        if profile is not None:
            password = profile.get("password") if isinstance(profile, dict) else None
            if not isinstance(password, str) or not password_is_complex(password):
                raise _bad_request(COMPLEXITY_MESSAGE)
        if "userPrincipalName" in body:
            owner = store.upn_owner(str(body["userPrincipalName"]))
            if owner is not None and owner["id"] != user["id"]:
                raise _bad_request("Another object with the same value for property userPrincipalName "
                                   "already exists.")
        for name, value in body.items():
            if name == "passwordProfile":
                user["passwordLastSetDateTime"] = iso(utc_now())
                user["forceChangePasswordNextSignIn"] = bool(value.get("forceChangePasswordNextSignIn"))
            else:
                user[name] = value
        store.mark_dirty()
    return Response(status=204, content_type="")


@bp.post("/users/<key>/revokeSignInSessions")
def revoke_sessions(key: str):
    store = ctx().store
    with store.lock:
        user = _user_or_404(key)
        user["signInSessionsValidFromDateTime"] = iso(utc_now())
        store.mark_dirty()
    return jsonify({"@odata.context": f"{odata_base()}/$metadata#Edm.Boolean", "value": True})


# -- Temporary Access Pass -----------------------------------------------------------------------


def _parse_time(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError) as exc:
        raise _bad_request("Invalid value for startDateTime.", "badRequest") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _tap_view(method: dict, value: str | None = None) -> dict:
    start = _parse_time(method["startDateTime"])
    end = start + dt.timedelta(minutes=method["lifetimeInMinutes"])
    now = utc_now()
    if method.get("used"):
        usable, reason = False, "OneTimeUsed"
    elif now < start:
        usable, reason = False, "NotYetValid"
    elif now >= end:
        usable, reason = False, "Expired"
    else:
        usable, reason = True, "EnabledByPolicy"
    return {
        "id": method["id"],
        "temporaryAccessPass": value,
        "createdDateTime": method["createdDateTime"],
        "startDateTime": method["startDateTime"],
        "lifetimeInMinutes": method["lifetimeInMinutes"],
        "isUsableOnce": method["isUsableOnce"],
        "isUsable": usable,
        "methodUsabilityReason": reason,
    }


def _new_tap_value(length: int) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789" + TAP_SYMBOLS
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if (any(c in string.ascii_lowercase for c in value) and any(c in string.ascii_uppercase for c in value)
                and any(c.isdigit() for c in value)):
            return value


@bp.post("/users/<key>/authentication/temporaryAccessPassMethods")
def create_tap(key: str):
    body = _json_body()
    store = ctx().store
    with store.lock:
        user = _user_or_404(key)
        policy = dict(store.policy)
    lifetime = body.get("lifetimeInMinutes", policy["defaultLifetimeInMinutes"])
    if isinstance(lifetime, bool) or not isinstance(lifetime, int):
        raise _bad_request("lifetimeInMinutes must be an integer.", "badRequest")
    low, high = policy["minimumLifetimeInMinutes"], policy["maximumLifetimeInMinutes"]
    if not low <= lifetime <= high:
        raise _bad_request(
            f"The lifetimeInMinutes value {lifetime} is outside the range allowed by the Temporary Access "
            f"Pass policy of the tenant: it must be between {low} and {high} minutes.",
            "badRequest",
        )
    once = body.get("isUsableOnce", policy["isUsableOnce"])
    if not isinstance(once, bool):
        raise _bad_request("isUsableOnce must be a boolean.", "badRequest")
    now = utc_now()
    start = _parse_time(body["startDateTime"]) if body.get("startDateTime") else now
    method = {
        "id": str(uuid.uuid4()),
        "createdDateTime": iso(now),
        "startDateTime": iso(start),
        "lifetimeInMinutes": lifetime,
        "isUsableOnce": once,
    }
    value = _new_tap_value(int(policy.get("defaultLength", 8)))
    with store.lock:
        old = store.tap_methods.get(user["id"])
        if old is not None:
            store.tap_hashes.pop(old["id"], None)
        store.tap_methods[user["id"]] = method
        store.remember_tap(method["id"], value)
        store.mark_dirty()
    response = jsonify(
        {
            "@odata.context": f"{odata_base()}/$metadata#users('{user['id']}')/authentication/"
                              "temporaryAccessPassMethods/$entity",
            **_tap_view(method, value),
        }
    )
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/users/<key>/authentication/temporaryAccessPassMethods")
def list_taps(key: str):
    store = ctx().store
    with store.lock:
        user = _user_or_404(key)
        method = store.tap_methods.get(user["id"])
        values = [_tap_view(method)] if method else []
    return jsonify(
        {"@odata.context": f"{odata_base()}/$metadata#users('{user['id']}')/authentication/"
                           "temporaryAccessPassMethods", "value": values}
    )


def _method_or_404(user: dict, method_id: str) -> dict:
    method = ctx().store.tap_methods.get(user["id"])
    if method is None or method["id"] != method_id:
        raise GraphError(404, "itemNotFound", f"The temporaryAccessPassMethod '{method_id}' was not found.")
    return method


@bp.get("/users/<key>/authentication/temporaryAccessPassMethods/<method_id>")
def get_tap(key: str, method_id: str):
    store = ctx().store
    with store.lock:
        user = _user_or_404(key)
        view = _tap_view(_method_or_404(user, method_id))
    return jsonify(view)


@bp.delete("/users/<key>/authentication/temporaryAccessPassMethods/<method_id>")
def delete_tap(key: str, method_id: str):
    store = ctx().store
    with store.lock:
        user = _user_or_404(key)
        _method_or_404(user, method_id)
        del store.tap_methods[user["id"]]
        store.tap_hashes.pop(method_id, None)
        store.mark_dirty()
    return Response(status=204, content_type="")


# -- mail ----------------------------------------------------------------------------------------


def _recipients(message: dict, field: str) -> list[str]:
    raw = message.get(field) or []
    if not isinstance(raw, list):
        raise _bad_request(f"{field} must be an array.", "ErrorInvalidRecipients")
    addresses = []
    for item in raw:
        address = ((item or {}).get("emailAddress") or {}).get("address") if isinstance(item, dict) else None
        if not isinstance(address, str) or "@" not in address or any(c in address for c in "\r\n<>,;"):
            raise _bad_request("At least one recipient is not valid., Recipient is not resolved.",
                               "ErrorInvalidRecipients")
        addresses.append(address)
    return addresses


@bp.post("/users/<sender>/sendMail")
def send_mail(sender: str):
    body = _json_body()
    store = ctx().store
    with store.lock:
        user = store.find_user(sender)
    if user is None and "@" not in sender:
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{sender}' is invalid.")
    message = body.get("message")
    if not isinstance(message, dict):
        raise _bad_request("The message property is required.", "ErrorInvalidRequest")
    to = _recipients(message, "toRecipients")
    if not to:
        raise _bad_request("At least one recipient is required.", "ErrorInvalidRecipients")
    content = message.get("body") or {}
    content_type = str(content.get("contentType", "Text"))
    if content_type.lower() not in ("text", "html"):
        raise _bad_request("body.contentType must be Text or HTML.", "ErrorInvalidRequest")
    mailbox = user["userPrincipalName"] if user else sender
    ctx().quotas.take_mail(mailbox)  # Exchange Online: about 30 messages a minute per mailbox
    stored = {
        "id": str(uuid.uuid4()),
        "sender": mailbox,
        "receivedDateTime": iso(utc_now()),
        "subject": message.get("subject", ""),
        "contentType": content_type,
        "content": content.get("content", ""),
        "toRecipients": to,
        "ccRecipients": _recipients(message, "ccRecipients"),
        "bccRecipients": _recipients(message, "bccRecipients"),
        "saveToSentItems": bool(body.get("saveToSentItems", True)),
    }
    with store.lock:
        store.mail.append(stored)
        store.mark_dirty()
    return Response(status=202, content_type="")
