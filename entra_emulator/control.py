"""Control API ``/_emulator/...``: reset, seed users, faults, processing, requests, mail, policy.

No authentication (local test tool). JSON in, JSON out.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from . import faults, id_token_faults
from .context import ctx
from .provisioning_schema import check_mappings
from .store import DEFAULT_POLICY, new_user

bp = Blueprint("control", __name__)

USER_FIELDS = {
    "id", "employeeId", "userPrincipalName", "displayName", "givenName", "surname", "mail",
    "department", "jobTitle", "companyName", "usageLocation", "accountEnabled",
    "onPremisesSyncEnabled", "roles", "staff", "managerId", "managerEmployeeId",
}


def _error(status: int, message: str):
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _body() -> dict | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _control_view(user: dict) -> dict:
    store = ctx().store
    method = store.tap_methods.get(user["id"])
    return {
        **user,
        "temporaryAccessPass": (
            {key: method[key] for key in ("id", "createdDateTime", "startDateTime", "lifetimeInMinutes",
                                          "isUsableOnce")}
            if method else None
        ),
        "hasPassword": user.get("passwordLastSetDateTime") is not None,
    }


@bp.get("/health")
def health():
    return jsonify({"status": "ok"})


@bp.get("/info")
def info():
    context = ctx()
    ids = context.identities
    return jsonify(
        {
            "base_url": context.base_url,
            "tenant_id": ids.tenant_id,
            "client_id": ids.client_id,
            "provisioning_sp_id": ids.provisioning_sp_id,
            "provisioning_job_id": ids.provisioning_job_id,
            "ca_path": str(context.keys.ca_path),
        }
    )


@bp.post("/reset")
def reset():
    ctx().store.reset()
    ctx().quotas.reset_counts()
    return jsonify({"reset": True})


@bp.get("/users")
def list_users():
    store = ctx().store
    with store.lock:
        return jsonify({"value": [_control_view(u) for u in store.users.values()]})


@bp.get("/users/<key>")
def get_user(key: str):
    store = ctx().store
    with store.lock:
        user = store.find_user(key) or store.find_by_employee_id(key)
        if user is None:
            return _error(404, f"no user '{key}'")
        return jsonify(_control_view(user))


def _apply_manager(user: dict, body: dict) -> str | None:
    store = ctx().store
    if body.get("managerEmployeeId"):
        manager = store.find_by_employee_id(body["managerEmployeeId"])
        if manager is None:
            return f"no user has employeeId '{body['managerEmployeeId']}'"
        user["managerId"] = manager["id"]
    return None


@bp.post("/users")
def create_user():
    body = _body()
    if body is None:
        return _error(400, "the body must be a JSON object")
    unknown = set(body) - USER_FIELDS
    if unknown:
        return _error(400, f"unknown user fields: {sorted(unknown)}")
    if not isinstance(body.get("userPrincipalName"), str) or "@" not in body["userPrincipalName"]:
        return _error(400, "userPrincipalName (an address with @) is required")
    store = ctx().store
    with store.lock:
        if store.upn_owner(body["userPrincipalName"]) is not None:
            return _error(409, "userPrincipalName already in use")
        if body.get("employeeId") and store.find_by_employee_id(body["employeeId"]) is not None:
            return _error(409, "employeeId already in use")
        if body.get("id") and body["id"] in store.users:
            return _error(409, "id already in use")
        user = new_user({k: v for k, v in body.items() if k != "managerEmployeeId"})
        problem = _apply_manager(user, body)
        if problem:
            return _error(400, problem)
        store.add_user(user)
        response = jsonify(_control_view(user))
    response.status_code = 201
    return response


@bp.patch("/users/<key>")
def patch_user(key: str):
    body = _body()
    if body is None:
        return _error(400, "the body must be a JSON object")
    unknown = set(body) - (USER_FIELDS - {"id"})
    if unknown:
        return _error(400, f"unknown user fields: {sorted(unknown)}")
    store = ctx().store
    with store.lock:
        user = store.find_user(key) or store.find_by_employee_id(key)
        if user is None:
            return _error(404, f"no user '{key}'")
        problem = _apply_manager(user, body)
        if problem:
            return _error(400, problem)
        for name, value in body.items():
            if name == "onPremisesSyncEnabled":
                user[name] = True if value else None
            elif name != "managerEmployeeId":
                user[name] = value
        store.mark_dirty()
        return jsonify(_control_view(user))


@bp.post("/users/<key>/tap/verify")
def verify_tap(key: str):
    """Does ``{"value": ...}`` equal the user's current TAP? (TAPs are only kept as salted hashes.)"""
    body = _body() or {}
    store = ctx().store
    with store.lock:
        user = store.find_user(key) or store.find_by_employee_id(key)
        if user is None:
            return _error(404, f"no user '{key}'")
        method = store.tap_methods.get(user["id"])
        valid = bool(method) and store.tap_matches(method["id"], str(body.get("value", "")))
    return jsonify({"valid": valid})


@bp.get("/faults")
def list_faults():
    store = ctx().store
    with store.lock:
        return jsonify({"value": list(store.faults)})


@bp.post("/faults")
def add_fault():
    try:
        fault = faults.normalise(request.get_json(silent=True))
    except (faults.FaultError, TypeError, ValueError) as exc:
        return _error(400, str(exc))
    store = ctx().store
    with store.lock:
        store.faults.append(fault)
    response = jsonify(fault)
    response.status_code = 201
    return response


@bp.delete("/faults")
def clear_faults():
    store = ctx().store
    with store.lock:
        store.faults.clear()
    return jsonify({"cleared": True})


@bp.post("/id-token-faults")
def add_id_token_fault():
    body = _body() or {}
    kind = body.get("kind")
    if kind not in id_token_faults.KINDS:
        return _error(400, f"kind must be one of {list(id_token_faults.KINDS)}")
    store = ctx().store
    with store.lock:
        store.id_token_faults.append(kind)
    response = jsonify({"kind": kind})
    response.status_code = 201
    return response


@bp.post("/signing-keys/rotate")
def rotate_signing_key():
    key, kid = id_token_faults.new_signing_key()
    store = ctx().store
    with store.lock:
        store.rotated_signing_key = (key, kid)
    return jsonify({"kid": kid})


@bp.post("/process")
def process():
    return jsonify(ctx().processor.process(force=True))


@bp.get("/uploads")
def staged_uploads():
    store = ctx().store
    with store.lock:
        return jsonify({"value": list(store.staged_uploads)})


@bp.get("/requests")
def list_requests():
    store = ctx().store
    with store.lock:
        return jsonify({"value": list(store.requests)})


@bp.delete("/requests")
def clear_requests():
    store = ctx().store
    with store.lock:
        store.requests.clear()
    return jsonify({"cleared": True})


@bp.get("/mail")
def list_mail():
    store = ctx().store
    with store.lock:
        return jsonify({"value": list(store.mail)})


@bp.delete("/mail")
def clear_mail():
    store = ctx().store
    with store.lock:
        store.mail.clear()
        store.mark_dirty()
    return jsonify({"cleared": True})


@bp.get("/quotas")
def get_quotas():
    return jsonify(ctx().quotas.view())


@bp.put("/quotas")
def put_quotas():
    body = _body()
    if body is None:
        return _error(400, "the body must be a JSON object")
    try:
        ctx().quotas.configure(body)
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))
    return jsonify(ctx().quotas.view())


@bp.get("/policy")
def get_policy():
    store = ctx().store
    with store.lock:
        return jsonify(dict(store.policy))


@bp.put("/policy")
def put_policy():
    body = _body()
    if body is None:
        return _error(400, "the body must be a JSON object")
    unknown = set(body) - set(DEFAULT_POLICY)
    if unknown:
        return _error(400, f"unknown policy fields: {sorted(unknown)}")
    store = ctx().store
    with store.lock:
        merged = {**store.policy, **body}
        low, high = merged["minimumLifetimeInMinutes"], merged["maximumLifetimeInMinutes"]
        ints = all(isinstance(merged[k], int) and not isinstance(merged[k], bool)
                   for k in ("minimumLifetimeInMinutes", "maximumLifetimeInMinutes",
                             "defaultLifetimeInMinutes", "defaultLength"))
        if not ints or not 10 <= low <= high <= 43200 or not low <= merged["defaultLifetimeInMinutes"] <= high:
            return _error(400, "need integers with 10 <= minimum <= default <= maximum <= 43200")
        if not 8 <= merged["defaultLength"] <= 48 or not isinstance(merged["isUsableOnce"], bool):
            return _error(400, "defaultLength must be 8..48 and isUsableOnce a boolean")
        store.policy = merged
        store.mark_dirty()
        return jsonify(dict(store.policy))


@bp.get("/permissions")
def get_permissions():
    store = ctx().store
    with store.lock:
        return jsonify({"value": list(store.app_permissions)})


@bp.put("/permissions")
def put_permissions():
    """Replace the app registration's granted application permissions (new tokens carry them)."""
    body = _body()
    granted = body.get("value") if isinstance(body, dict) else None
    if not isinstance(granted, list) or not all(isinstance(p, str) and p for p in granted):
        return _error(400, 'the body must be {"value": ["Permission.Name", ...]}')
    store = ctx().store
    with store.lock:
        store.app_permissions = sorted(set(granted))
        store.mark_dirty()
        return jsonify({"value": list(store.app_permissions)})


@bp.get("/provisioning-schema")
def get_provisioning_schema():
    store = ctx().store
    with store.lock:
        return jsonify({"mappings": [{"source": s, "target": t} for s, t in store.provisioning_mappings]})


@bp.put("/provisioning-schema")
def put_provisioning_schema():
    """Attribute mappings added to the provisioning app on top of Microsoft's defaults (replaces earlier ones)."""
    body = _body()
    if body is None or set(body) != {"mappings"}:
        return _error(400, 'the body must be {"mappings": [{"source": ..., "target": ...}, ...]}')
    try:
        pairs = check_mappings(body["mappings"])
    except ValueError as exc:
        return _error(400, str(exc))
    store = ctx().store
    with store.lock:
        store.provisioning_mappings = [list(pair) for pair in pairs]
        store.mark_dirty()
    return get_provisioning_schema()
