"""Asynchronous processing of staged bulk uploads into users and provisioning log entries.

Like Entra: match ``externalId`` to ``employeeId``; create, update or disable; ``active`` absent
means *disabled* (a documented quirk); manager references resolved after the whole batch.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from .context import EmulatorContext
from .provisioning_schema import STRUCTURAL, effective_mappings, payload_attributes
from .store import iso, new_user, utc_now

log = logging.getLogger(__name__)
TICK = 0.05
SAVE_INTERVAL = 2.0  # seconds between state-file writes while busy (stop() always saves)


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _step(name: str, step_type: str, status: str, description: str, details: dict | None = None) -> dict:
    return {
        "name": name,
        "provisioningStepType": step_type,
        "status": status,
        "description": description,
        "details": details or {},
    }


# Targets the processor handles itself: matching, enabling, the UPN and the manager reference.
_SELF_HANDLED = frozenset({"employeeId", "accountEnabled", "userPrincipalName", "manager"})


def _wanted_attributes(data: dict, mappings: list[tuple[str, str]]) -> tuple[dict, list[str], tuple[bool, object]]:
    """(directory attribute -> value, source attributes the schema does not map, manager (present, value)).

    Like Entra with "Flow null values" on: an attribute sent as JSON null or "" clears the target
    (on an update; a create simply leaves it unset); an attribute the app's schema does not map is ignored.
    """
    targets: dict[str, list[str]] = {}
    for source, target in mappings:
        targets.setdefault(source, []).append(target)
    wanted: dict = {}
    ignored: list[str] = []
    manager: tuple[bool, object] = (False, None)
    for source, value in payload_attributes(data):
        mapped = targets.get(source)
        if not mapped:
            if source not in STRUCTURAL and source not in ignored:
                ignored.append(source)
            continue
        value = None if value == "" else value
        for target in mapped:
            if target == "manager":
                manager = (True, value)
            elif target == "businessPhones":
                wanted[target] = [value] if value is not None else []
            elif target not in _SELF_HANDLED:
                wanted[target] = value
    if not wanted.get("displayName"):  # required in Entra: never cleared, derived when missing
        name = data.get("name") if isinstance(data.get("name"), dict) else {}
        display = name.get("formatted") or " ".join(
            p for p in (name.get("givenName"), name.get("familyName")) if p)
        if display:
            wanted["displayName"] = display
        else:
            wanted.pop("displayName", None)
    return wanted, ignored, manager


def _set(user: dict, target: str, value: object) -> None:
    head, _, rest = target.partition(".")
    if rest:
        user.setdefault(head, {})
        if not isinstance(user[head], dict):
            user[head] = {}
        user[head][rest] = value
    else:
        user[target] = value


def _get(user: dict, target: str) -> object:
    head, _, rest = target.partition(".")
    if rest:
        inner = user.get(head)
        return inner.get(rest) if isinstance(inner, dict) else None
    return user.get(target)


class Processor:
    """Background worker: processes due uploads and saves the store when it changed."""

    def __init__(self, context: EmulatorContext) -> None:
        self.context = context
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process_lock = threading.Lock()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="entra-emulator-processing", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        last_save = time.monotonic()
        while not self._stop.wait(TICK):
            try:
                self.process(force=False)
                if time.monotonic() - last_save >= SAVE_INTERVAL:
                    self.context.store.save_if_dirty()
                    last_save = time.monotonic()
            except Exception:  # keep the worker alive; the error is logged
                log.exception("emulator processing tick failed")

    # -- processing --------------------------------------------------------------------------
    def process(self, force: bool = True) -> dict:
        """Process staged uploads (all of them when ``force``, else those past the delay)."""
        store = self.context.store
        counts = {"uploads": 0, "operations": 0}
        with self._process_lock:
            now = time.time()
            with store.lock:
                due = [
                    u for u in store.staged_uploads
                    if force or u["receivedAt"] + self.context.processing_delay <= now
                ]
                store.staged_uploads = [u for u in store.staged_uploads if u not in due]
            for upload in due:
                entries = self._process_upload(upload)
                with store.lock:
                    store.provisioning_logs.extend(entries)
                    store.mark_dirty()
                counts["uploads"] += 1
                counts["operations"] += len(entries)
        return counts

    def _process_upload(self, upload: dict) -> list[dict]:
        cycle_id = str(uuid.uuid4())
        entries, references = [], []
        with self.context.store.lock:
            for op in upload["operations"]:
                started = time.monotonic()
                entry, reference = self._apply(upload, cycle_id, op)
                entry["durationInMilliseconds"] = int((time.monotonic() - started) * 1000)
                entries.append(entry)
                if reference:
                    references.append((entry, reference))
            for entry, (user_id, manager_external_id) in references:
                self._resolve_manager(entry, user_id, manager_external_id)
        return entries

    def _entry(self, upload: dict, cycle_id: str, op: dict) -> dict:
        data = op["data"]
        ids = self.context.identities
        return {
            "id": str(uuid.uuid4()),
            "activityDateTime": iso(utc_now()),
            "tenantId": ids.tenant_id,
            "jobId": upload["jobId"],
            "cycleId": cycle_id,
            "changeId": upload["id"],
            "durationInMilliseconds": 0,
            "initiatedBy": {"id": "", "displayName": "Azure AD Provisioning Service", "initiatorType": "system"},
            "servicePrincipal": {"id": upload["servicePrincipalId"], "displayName": "API-driven provisioning"},
            "sourceSystem": {"id": "", "displayName": "API", "details": {}},
            "targetSystem": {"id": "", "displayName": "Entra ID", "details": {}},
            "sourceIdentity": {
                "id": data["externalId"],
                "displayName": data.get("displayName") or data.get("userName") or data["externalId"],
                "identityType": "User",
                "details": {"bulkId": op["bulkId"]},
            },
            "targetIdentity": {"id": "", "displayName": "", "identityType": "User", "userPrincipalName": "",
                               "details": {}},
            "provisioningAction": "other",
            "provisioningStatusInfo": {"status": "success", "errorInformation": None},
            "provisioningSteps": [
                _step("EntryImport", "import", "success",
                      f"Received user '{data['externalId']}' from the API (bulkId {op['bulkId']}).",
                      {"bulkId": op["bulkId"]}),
            ],
            "modifiedProperties": [],
        }

    @staticmethod
    def _fail(entry: dict, action: str, code: str, reason: str) -> dict:
        entry["provisioningAction"] = action
        entry["provisioningStatusInfo"] = {
            "status": "failure",
            "errorInformation": {
                "errorCode": code,
                "reason": reason,
                "additionalDetails": None,
                "errorCategory": "NonServiceFailure",
                "recommendedAction": None,
            },
        }
        entry["provisioningSteps"].append(_step("EntryExportAdd" if action == "create" else "EntryExportUpdate",
                                                "export", "failure", reason))
        return entry

    def _apply(self, upload: dict, cycle_id: str, op: dict) -> tuple[dict, tuple[str, str] | None]:
        store = self.context.store
        data = op["data"]
        entry = self._entry(upload, cycle_id, op)
        external_id = data["externalId"]
        active = _as_bool(data["active"]) if "active" in data else False  # quirk: absent -> disabled
        mappings = effective_mappings(tuple(pair) for pair in store.provisioning_mappings)
        wanted, ignored, (manager_sent, manager_value) = _wanted_attributes(data, mappings)
        wanted["accountEnabled"] = active
        existing = store.find_by_employee_id(external_id)
        if ignored:
            entry["provisioningSteps"].append(_step(
                "EntryImportAttributesNotMapped", "import", "warning",
                f"{len(ignored)} attribute(s) in the request are not mapped in the provisioning app's schema "
                f"and were ignored: {', '.join(ignored)}. Add attribute mappings for them (Provisioning > "
                "Attribute mapping) to provision them.", {"ignoredAttributes": ", ".join(ignored)}))
        entry["provisioningSteps"].append(
            _step("EntryMatching", "matching", "success",
                  f"Matched on employeeId '{external_id}'" if existing
                  else f"No user has employeeId '{external_id}'; a new user will be created.")
        )
        user_name = data.get("userName")
        if user_name is not None and (not isinstance(user_name, str) or "@" not in user_name
                                      or user_name.startswith("@") or user_name.endswith("@")):
            return self._fail(entry, "update" if existing else "create", "InvalidUserPrincipalName",
                              f"The userName '{user_name}' is not a valid userPrincipalName."), None

        if existing is None:
            if not user_name:
                return self._fail(entry, "create", "AttributeValueRequired",
                                  "userName is required to create a user: it maps to userPrincipalName."), None
            wanted = {k: v for k, v in wanted.items() if v is not None and v != []}  # nothing to clear yet
            user = new_user({"userPrincipalName": store.unique_upn(user_name, None), "employeeId": external_id,
                             "staff": False, **wanted})
            for key, value in wanted.items():
                _set(user, key, value)
            store.add_user(user)
            action, changes = "create", [{"displayName": k, "oldValue": None, "newValue": _text(v)}
                                         for k, v in sorted(wanted.items())]
            changes.append({"displayName": "userPrincipalName", "oldValue": None,
                            "newValue": user["userPrincipalName"]})
        else:
            user = existing
            if user_name:
                wanted["userPrincipalName"] = store.unique_upn(user_name, user["id"])
            changes = [{"displayName": k, "oldValue": _text(_get(user, k)), "newValue": _text(v)}
                       for k, v in sorted(wanted.items()) if _get(user, k) != v and not (
                           v in (None, []) and _get(user, k) in (None, []))]
            was_enabled = user.get("accountEnabled")
            for key, value in wanted.items():
                _set(user, key, value)
            action = "disable" if was_enabled and not active else "update"
            if not changes:
                action = "other"
        store.mark_dirty()
        entry["provisioningAction"] = action
        entry["modifiedProperties"] = changes
        entry["targetIdentity"].update({"id": user["id"], "displayName": user.get("displayName") or "",
                                        "userPrincipalName": user["userPrincipalName"],
                                        "details": {"userPrincipalName": user["userPrincipalName"]}})
        if action == "other":
            entry["provisioningStatusInfo"] = {"status": "skipped", "errorInformation": {
                "errorCode": "RedundantExport", "reason": "The user is already in the desired state.",
                "additionalDetails": None, "errorCategory": None, "recommendedAction": None}}
            entry["provisioningSteps"].append(_step("EntrySynchronizationSkipped", "export", "skipped",
                                                    "No attribute changed; nothing was exported."))
        else:
            step_name = {"create": "EntryExportAdd", "disable": "EntryExportUpdateSoftDelete"}.get(
                action, "EntryExportUpdate")
            entry["provisioningSteps"].append(_step(step_name, "export", "success",
                                                    f"User '{user['userPrincipalName']}' was {action}d"
                                                    if action != "other" else "", {"objectId": user["id"]}))
        if manager_sent and manager_value is None and user.get("managerId"):  # cleared in the source
            entry["modifiedProperties"].append(
                {"displayName": "manager", "oldValue": user.get("managerId"), "newValue": None})
            user["managerId"] = None
            if entry["provisioningAction"] == "other":
                self._now_updated(entry, user)
        reference = (user["id"], str(manager_value)) if manager_sent and manager_value else None
        return entry, reference

    @staticmethod
    def _now_updated(entry: dict, user: dict) -> None:
        entry["provisioningAction"] = "update"
        entry["provisioningStatusInfo"] = {"status": "success", "errorInformation": None}
        entry["provisioningSteps"] = [s for s in entry["provisioningSteps"]
                                      if s["name"] != "EntrySynchronizationSkipped"]
        entry["provisioningSteps"].append(_step("EntryExportUpdate", "export", "success",
                                                f"User '{user['userPrincipalName']}' was updated",
                                                {"objectId": user["id"]}))

    def _resolve_manager(self, entry: dict, user_id: str, manager_external_id: str) -> None:
        store = self.context.store
        user = store.users.get(user_id)
        manager = store.find_by_employee_id(manager_external_id)
        if user is None:
            return
        if manager is None or manager["id"] == user_id:
            entry["provisioningSteps"].append(
                _step("EntryReferenceResolutionSkipped", "referenceResolution", "skipped",
                      f"Manager with externalId '{manager_external_id}' was not found; the manager "
                      "reference was skipped.", {"managerExternalId": manager_external_id})
            )
            return
        if user.get("managerId") != manager["id"]:
            entry["modifiedProperties"].append(
                {"displayName": "manager", "oldValue": user.get("managerId"), "newValue": manager["id"]})
            user["managerId"] = manager["id"]
            if entry["provisioningAction"] == "other":
                entry["provisioningAction"] = "update"
                entry["provisioningStatusInfo"] = {"status": "success", "errorInformation": None}
        entry["provisioningSteps"].append(
            _step("EntryReferenceResolution", "referenceResolution", "success",
                  f"Manager '{manager_external_id}' resolved to object {manager['id']}.",
                  {"managerId": manager["id"]})
        )


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)
