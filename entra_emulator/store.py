"""The emulator's state: directory users, TAP metadata, provisioning logs, staged uploads, sent mail.

One ``Store`` per server, guarded by one re-entrant lock. Durable parts are written to
``state.json`` atomically (temp file + rename). Secrets never reach the file: TAP values and
passwords are not stored at all (only a salted hash of a TAP, in memory, to let the control API
check a value). Faults, recorded requests, authorization codes and the rate window are runtime
only.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import os
import secrets
import threading
import uuid
from pathlib import Path

from .permissions import DEFAULT_GRANTED
from .seed import DEMO_STAFF

STATE_FILE = "state.json"
DEFAULT_POLICY = {
    "minimumLifetimeInMinutes": 60,
    "maximumLifetimeInMinutes": 480,
    "defaultLifetimeInMinutes": 60,
    "defaultLength": 8,
    "isUsableOnce": False,
}
GRAPH_USER_FIELDS = (
    "id", "userPrincipalName", "displayName", "givenName", "surname", "mail", "employeeId",
    "department", "jobTitle", "companyName", "usageLocation", "accountEnabled",
    "onPremisesSyncEnabled", "createdDateTime",
)
MAX_RECORDED_REQUESTS = 5000


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_user(fields: dict, *, seeded: bool = False) -> dict:
    user = {
        "id": fields.get("id") or str(uuid.uuid4()),
        "userPrincipalName": fields["userPrincipalName"],
        "displayName": fields.get("displayName") or fields["userPrincipalName"].split("@")[0],
        "givenName": fields.get("givenName"),
        "surname": fields.get("surname"),
        "mail": fields.get("mail"),
        "employeeId": fields.get("employeeId"),
        "department": fields.get("department"),
        "jobTitle": fields.get("jobTitle"),
        "companyName": fields.get("companyName"),
        "usageLocation": fields.get("usageLocation"),
        "accountEnabled": bool(fields.get("accountEnabled", True)),
        "onPremisesSyncEnabled": True if fields.get("onPremisesSyncEnabled") else None,
        "createdDateTime": iso(utc_now()),
        "managerId": fields.get("managerId"),
        "roles": list(fields.get("roles") or []),
        "staff": bool(fields.get("staff", seeded)),
        "seeded": seeded,
        "customAttributes": dict(fields.get("customAttributes") or {}),
        "passwordLastSetDateTime": None,
        "signInSessionsValidFromDateTime": None,
    }
    return user


def graph_user_view(user: dict) -> dict:
    return {key: user.get(key) for key in GRAPH_USER_FIELDS}


class Store:
    """All mutable emulator state. Callers hold ``store.lock`` while reading or changing it."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / STATE_FILE
        self.lock = threading.RLock()
        self._dirty = False
        self.users: dict[str, dict] = {}
        self.tap_methods: dict[str, dict] = {}  # user id -> method metadata (no value)
        self.provisioning_logs: list[dict] = []
        self.staged_uploads: list[dict] = []
        self.mail: list[dict] = []
        self.policy: dict = dict(DEFAULT_POLICY)
        self.app_permissions: list[str] = list(DEFAULT_GRANTED)
        self.auth_methods: dict[str, list[dict]] = {}  # user id -> registered passkeys / Authenticator
        self.tap_targets: dict = {}  # TAP policy state / include / exclude targets (security_info.py)
        # attribute mappings an administrator added to the provisioning app (source, target)
        self.provisioning_mappings: list[list[str]] = []
        # runtime only (never persisted)
        self.security_info_tickets: dict[str, tuple[str, float]] = {}  # My Security Info sign-ins
        self.tap_hashes: dict[str, tuple[bytes, bytes]] = {}  # method id -> (salt, sha256)
        self.faults: list[dict] = []
        self.id_token_faults: list[str] = []  # kinds from id_token_faults.KINDS, one per redemption
        self.rotated_signing_key: tuple | None = None  # (private key, kid) after /signing-keys/rotate
        self.requests: collections.deque[dict] = collections.deque(maxlen=MAX_RECORDED_REQUESTS)
        self.auth_codes: dict[str, dict] = {}
        self.redeemed_codes: dict[str, float] = {}
        self.bulk_calls: collections.deque[float] = collections.deque()

    # -- persistence -------------------------------------------------------------------------
    def load(self) -> None:
        with self.lock:
            if self.path.exists():
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self.users = {u["id"]: u for u in data.get("users", [])}
                self.tap_methods = data.get("tapMethods", {})
                self.provisioning_logs = data.get("provisioningLogs", [])
                self.staged_uploads = data.get("stagedUploads", [])
                self.mail = data.get("mail", [])
                self.policy = {**DEFAULT_POLICY, **data.get("policy", {})}
                self.app_permissions = list(data.get("appPermissions", DEFAULT_GRANTED))
                self.auth_methods = data.get("authMethods", {})
                self.tap_targets = data.get("tapTargets", {})
                self.provisioning_mappings = [list(p) for p in data.get("provisioningMappings", [])]
            self.ensure_seeded()

    def ensure_seeded(self) -> None:
        with self.lock:
            for row in DEMO_STAFF:
                if self.find_by_employee_id(row["employeeId"]) is None:
                    self.add_user(new_user(row, seeded=True))

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "version": 1,
                "users": list(self.users.values()),
                "tapMethods": self.tap_methods,
                "provisioningLogs": self.provisioning_logs,
                "stagedUploads": self.staged_uploads,
                "mail": self.mail,
                "policy": self.policy,
                "appPermissions": self.app_permissions,
                "authMethods": self.auth_methods,
                "tapTargets": self.tap_targets,
                "provisioningMappings": self.provisioning_mappings,
            }

    def save(self) -> None:
        with self.lock:
            text = json.dumps(self.snapshot(), separators=(",", ":"))
            self._dirty = False
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)

    def mark_dirty(self) -> None:
        self._dirty = True

    def save_if_dirty(self) -> None:
        if self._dirty:
            self.save()

    # -- users -------------------------------------------------------------------------------
    def add_user(self, user: dict) -> dict:
        with self.lock:
            self.users[user["id"]] = user
            self.mark_dirty()
            return user

    def find_user(self, key: str) -> dict | None:
        """By object id or (case-insensitive) userPrincipalName."""
        with self.lock:
            if key in self.users:
                return self.users[key]
            lowered = key.lower()
            for user in self.users.values():
                if (user.get("userPrincipalName") or "").lower() == lowered:
                    return user
            return None

    def find_by_employee_id(self, employee_id: str) -> dict | None:
        with self.lock:
            for user in self.users.values():
                if user.get("employeeId") == employee_id:
                    return user
            return None

    def upn_owner(self, upn: str) -> dict | None:
        lowered = upn.lower()
        with self.lock:
            for user in self.users.values():
                if (user.get("userPrincipalName") or "").lower() == lowered:
                    return user
            return None

    def unique_upn(self, wanted: str, own_id: str | None) -> str:
        """``wanted`` if free (or already ours), else local part + number before the @."""
        local, _, domain = wanted.partition("@")
        candidate, number = wanted, 1
        while True:
            owner = self.upn_owner(candidate)
            if owner is None or owner["id"] == own_id:
                return candidate
            candidate = f"{local}{number}@{domain}" if domain else f"{local}{number}"
            number += 1

    # -- TAP hashes --------------------------------------------------------------------------
    def remember_tap(self, method_id: str, value: str) -> None:
        salt = secrets.token_bytes(16)
        self.tap_hashes[method_id] = (salt, hashlib.sha256(salt + value.encode()).digest())

    def tap_matches(self, method_id: str, value: str) -> bool:
        entry = self.tap_hashes.get(method_id)
        if entry is None:
            return False
        salt, digest = entry
        return secrets.compare_digest(digest, hashlib.sha256(salt + value.encode()).digest())

    # -- reset -------------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.users = {uid: u for uid, u in self.users.items() if u.get("seeded")}
            for user in self.users.values():
                user["accountEnabled"] = True
            self.tap_methods.clear()
            self.tap_hashes.clear()
            self.provisioning_logs.clear()
            self.staged_uploads.clear()
            self.mail.clear()
            self.policy = dict(DEFAULT_POLICY)
            self.app_permissions = list(DEFAULT_GRANTED)
            self.auth_methods.clear()
            self.tap_targets = {}
            self.security_info_tickets.clear()
            for user in self.users.values():
                user.pop("memberOf", None)
            self.provisioning_mappings = []
            self.faults.clear()
            self.id_token_faults.clear()
            self.rotated_signing_key = None
            self.requests.clear()
            self.auth_codes.clear()
            self.redeemed_codes.clear()
            self.bulk_calls.clear()
            self.ensure_seeded()
            self.mark_dirty()
