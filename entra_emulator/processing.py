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
from .graph_provisioning import CORE_USER, ENTERPRISE_USER
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


def _wanted_attributes(data: dict) -> dict:
    """Directory attributes a SCIM user maps to (only those present in the payload)."""
    name = data.get("name") if isinstance(data.get("name"), dict) else {}
    enterprise = data.get(ENTERPRISE_USER) if isinstance(data.get(ENTERPRISE_USER), dict) else {}
    wanted: dict = {}
    if name.get("givenName") is not None:
        wanted["givenName"] = name["givenName"]
    if name.get("familyName") is not None:
        wanted["surname"] = name["familyName"]
    display = data.get("displayName") or name.get("formatted")
    if not display and (name.get("givenName") or name.get("familyName")):
        display = " ".join(p for p in (name.get("givenName"), name.get("familyName")) if p)
    if display:
        wanted["displayName"] = display
    if data.get("title") is not None:
        wanted["jobTitle"] = data["title"]
    if data.get("preferredLanguage") is not None:
        wanted["preferredLanguage"] = data["preferredLanguage"]
    if enterprise.get("department") is not None:
        wanted["department"] = enterprise["department"]
    if enterprise.get("organization") is not None:
        wanted["companyName"] = enterprise["organization"]
    if enterprise.get("costCenter") is not None:
        wanted["costCenter"] = enterprise["costCenter"]
    if enterprise.get("division") is not None:
        wanted["division"] = enterprise["division"]
    addresses = data.get("addresses") if isinstance(data.get("addresses"), list) else []
    for address in addresses:
        if isinstance(address, dict) and address.get("country") and address.get("type", "work") == "work":
            wanted["usageLocation"] = address["country"]
            break
    if data.get("usageLocation"):
        wanted["usageLocation"] = data["usageLocation"]
    return wanted


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
        wanted = _wanted_attributes(data)
        wanted["accountEnabled"] = active
        existing = store.find_by_employee_id(external_id)
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
            user = new_user({"userPrincipalName": store.unique_upn(user_name, None), "employeeId": external_id,
                             "staff": False, **wanted})
            for key, value in wanted.items():
                user[key] = value
            store.add_user(user)
            action, changes = "create", [{"displayName": k, "oldValue": None, "newValue": _text(v)}
                                         for k, v in sorted(wanted.items())]
            changes.append({"displayName": "userPrincipalName", "oldValue": None,
                            "newValue": user["userPrincipalName"]})
        else:
            user = existing
            if user_name:
                wanted["userPrincipalName"] = store.unique_upn(user_name, user["id"])
            changes = [{"displayName": k, "oldValue": _text(user.get(k)), "newValue": _text(v)}
                       for k, v in sorted(wanted.items()) if user.get(k) != v]
            was_enabled = user.get("accountEnabled")
            for key, value in wanted.items():
                user[key] = value
            action = "disable" if was_enabled and not active else "update"
            if not changes:
                action = "other"
        custom = {k: v for k, v in data.items()
                  if k.startswith("urn:") and k not in (CORE_USER, ENTERPRISE_USER)}
        for urn, value in custom.items():
            if user["customAttributes"].get(urn) != value:
                user["customAttributes"][urn] = value
                changes.append({"displayName": urn, "oldValue": None, "newValue": _text(value)})
                if action == "other":
                    action = "update"
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
        manager = (data.get(ENTERPRISE_USER) or {}).get("manager") if isinstance(
            data.get(ENTERPRISE_USER), dict) else None
        manager_value = manager.get("value") if isinstance(manager, dict) else None
        reference = (user["id"], manager_value) if manager_value else None
        return entry, reference

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
