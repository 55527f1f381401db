"""Inbound provisioning: ``bulkUpload`` (validated, rate limited, staged) and provisioning logs."""

from __future__ import annotations

import base64
import json
import math
import time
import uuid
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, jsonify, request

from . import odata_filter
from .context import EmulatorContext, ctx
from .graph_auth import odata_base, require_graph_token
from .graph_errors import GraphError
from .provisioning_schema import effective_mappings, schema_document
from .store import iso, utc_now

bp = Blueprint("graph_provisioning", __name__)
bp.before_request(require_graph_token)

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_CONTENT_TYPE = "application/scim+json"
MAX_OPERATIONS = 50
LOG_TOP_DEFAULT, LOG_TOP_MAX = 50, 1000
LOG_FILTER_FIELDS = {
    "jobid": lambda e: e.get("jobId"),
    "sourceidentity/id": lambda e: (e.get("sourceIdentity") or {}).get("id"),
    "targetidentity/id": lambda e: (e.get("targetIdentity") or {}).get("id"),
    "provisioningstatusinfo/status": lambda e: (e.get("provisioningStatusInfo") or {}).get("status"),
    "provisioningaction": lambda e: e.get("provisioningAction"),
    "changeid": lambda e: e.get("changeId"),
    "cycleid": lambda e: e.get("cycleId"),
    "id": lambda e: e.get("id"),
}


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def logs_location(context: EmulatorContext, job_id: str) -> str:
    filter_text = quote(f"jobid eq '{job_id}'", safe="'")
    return f"{context.base_url}/v1.0/auditLogs/provisioning/?$filter={filter_text}"


def _rate_limit_wait(context: EmulatorContext) -> int | None:
    """Sliding window of accepted calls; seconds to wait when over the ceiling, else None."""
    store, now = context.store, time.monotonic()
    with store.lock:
        window = store.bulk_calls
        while window and window[0] <= now - context.bulk_rate_period:
            window.popleft()
        if len(window) >= context.bulk_rate_calls:
            return max(1, math.ceil(window[0] + context.bulk_rate_period - now))
        window.append(now)
    return None


def validate_bulk_request(body: object) -> list[dict]:
    """The operations of a valid SCIM BulkRequest, else ``GraphError`` 400 naming the problem."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object (a SCIM BulkRequest).")
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or BULK_REQUEST not in schemas:
        raise _bad(f"The request body 'schemas' must be [\"{BULK_REQUEST}\"].")
    operations = body.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise _bad("The request body must contain a non-empty 'Operations' array.")
    if len(operations) > MAX_OPERATIONS:
        raise _bad(f"The number of operations in the request ({len(operations)}) exceeds the maximum "
                   f"of {MAX_OPERATIONS} operations per bulk request.")
    seen: set[str] = set()
    for index, op in enumerate(operations):
        where = f"Operations[{index}]"
        if not isinstance(op, dict):
            raise _bad(f"{where} must be an object.")
        bulk_id = op.get("bulkId")
        if not isinstance(bulk_id, str) or not bulk_id:
            raise _bad(f"{where}: 'bulkId' is required.")
        if bulk_id in seen:
            raise _bad(f"{where}: bulkId '{bulk_id}' is not unique within the request.")
        seen.add(bulk_id)
        if op.get("method") != "POST":
            raise _bad(f"{where} (bulkId '{bulk_id}'): method must be 'POST'.")
        if op.get("path") != "/Users":
            raise _bad(f"{where} (bulkId '{bulk_id}'): path must be '/Users'.")
        data = op.get("data")
        if not isinstance(data, dict):
            raise _bad(f"{where} (bulkId '{bulk_id}'): 'data' must be an object.")
        data_schemas = data.get("schemas")
        if not isinstance(data_schemas, list) or CORE_USER not in data_schemas:
            raise _bad(f"{where} (bulkId '{bulk_id}'): data.schemas must contain '{CORE_USER}'.")
        for key in data:
            if key.lower().startswith("urn:") and key not in data_schemas:
                raise _bad(f"{where} (bulkId '{bulk_id}'): extension '{key}' is used in data but not "
                           "listed in data.schemas.")
        if ENTERPRISE_USER in data and not isinstance(data[ENTERPRISE_USER], dict):
            raise _bad(f"{where} (bulkId '{bulk_id}'): '{ENTERPRISE_USER}' must be an object.")
        external_id = data.get("externalId")
        if not isinstance(external_id, str) or not external_id.strip():
            raise _bad(f"{where} (bulkId '{bulk_id}'): data.externalId is required.")
    return operations


@bp.post("/servicePrincipals/<sp_id>/synchronization/jobs/<job_id>/bulkUpload")
def bulk_upload(sp_id: str, job_id: str):
    context = ctx()
    ids = context.identities
    if sp_id != ids.provisioning_sp_id:
        raise GraphError(404, "Request_ResourceNotFound",
                         f"Resource '{sp_id}' does not exist or one of its queried reference-property "
                         "objects are not present.")
    if job_id != ids.provisioning_job_id:
        raise GraphError(404, "ResourceNotFound", f"The synchronization job '{job_id}' was not found.")
    wait = _rate_limit_wait(context)
    if wait is not None:
        raise _TooMany(context, wait)
    content_type = (request.mimetype or "").lower()
    if content_type != SCIM_CONTENT_TYPE:
        raise _bad(f"The Content-Type '{request.content_type or ''}' is not supported: bulkUpload requires "
                   f"'{SCIM_CONTENT_TYPE}'.")
    try:
        body = json.loads(request.get_data(cache=True) or b"")
    except ValueError as exc:
        raise _bad("The request body is not valid JSON.") from exc
    operations = validate_bulk_request(body)
    context.quotas.take_bulk_call()  # a valid call counts against the tenant's daily quota
    upload = {
        "id": str(uuid.uuid4()),
        "receivedAt": time.time(),
        "receivedDateTime": iso(utc_now()),
        "servicePrincipalId": sp_id,
        "jobId": job_id,
        "operations": operations,
    }
    with context.store.lock:
        context.store.staged_uploads.append(upload)
        context.store.mark_dirty()
    response = Response(status=202, content_type="")
    response.headers["Location"] = logs_location(context, job_id)
    return response


@bp.get("/servicePrincipals/<sp_id>/synchronization/jobs/<job_id>/schema")
def job_schema(sp_id: str, job_id: str):
    """The job's synchronizationSchema: which API attributes the app maps (and so provisions)."""
    context = ctx()
    ids = context.identities
    if sp_id != ids.provisioning_sp_id:
        raise GraphError(404, "Request_ResourceNotFound",
                         f"Resource '{sp_id}' does not exist or one of its queried reference-property "
                         "objects are not present.")
    if job_id != ids.provisioning_job_id:
        raise GraphError(404, "ResourceNotFound", f"The synchronization job '{job_id}' was not found.")
    with context.store.lock:
        mappings = effective_mappings(tuple(pair) for pair in context.store.provisioning_mappings)
    return jsonify({"@odata.context": f"{odata_base()}/$metadata#servicePrincipals('{sp_id}')/synchronization/"
                                      f"jobs('{job_id}')/schema/$entity", **schema_document(job_id, mappings)})


class _TooMany(GraphError):
    def __init__(self, context: EmulatorContext, wait: int) -> None:
        super().__init__(
            429, "TooManyRequests",
            f"Too many requests: at most {context.bulk_rate_calls} bulkUpload calls per "
            f"{context.bulk_rate_period:g} seconds. Retry after {wait} seconds.",
        )
        self.wait = wait

    def response(self) -> Response:
        response = super().response()
        response.headers["Retry-After"] = str(self.wait)
        return response


# -- provisioning logs ---------------------------------------------------------------------------


def _encode_skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _decode_skiptoken(token: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = int(data["offset"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _bad("Invalid $skiptoken.") from exc
    if offset < 0:
        raise _bad("Invalid $skiptoken.")
    return offset


@bp.get("/auditLogs/provisioning")
def provisioning_logs():
    context = ctx()
    filter_text = request.args.get("$filter", "")
    try:
        clauses = odata_filter.parse(filter_text)
    except odata_filter.FilterError as exc:
        raise _bad(str(exc)) from exc
    getters = []
    for field, value in clauses:
        getter = LOG_FILTER_FIELDS.get(field.lower())
        if getter is None:
            raise _bad(f"Invalid filter clause: property '{field}' is not supported in $filter.")
        getters.append((getter, value))
    try:
        top = int(request.args.get("$top", LOG_TOP_DEFAULT))
    except ValueError as exc:
        raise _bad("Invalid $top value.") from exc
    if not 1 <= top <= LOG_TOP_MAX:
        raise _bad(f"$top must be between 1 and {LOG_TOP_MAX}.")
    offset = _decode_skiptoken(request.args["$skiptoken"]) if "$skiptoken" in request.args else 0
    with context.store.lock:
        matching = [
            entry for entry in reversed(context.store.provisioning_logs)
            if all(str(get(entry)).lower() == str(value).lower() for get, value in getters)
        ]
    page = matching[offset:offset + top]
    body = {"@odata.context": f"{odata_base()}/$metadata#auditLogs/provisioning", "value": page}
    if offset + top < len(matching):
        params = {"$top": str(top), "$skiptoken": _encode_skiptoken(offset + top)}
        if filter_text:
            params = {"$filter": filter_text, **params}
        body["@odata.nextLink"] = f"{odata_base()}/auditLogs/provisioning?{urlencode(params, quote_via=quote)}"
    return jsonify(body)
