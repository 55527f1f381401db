"""The HR push API: `POST /api/v1/workers` and `GET /api/v1/runs/<id>`, bearer API keys, JSON only.

A push is accepted at once: the answer (202 with the run id and a Location header) comes as soon as
the run and its job are recorded; the job consumer (`activation worker`) then validates, plans and
uploads, and polls Microsoft's results. `GET /api/v1/runs/<id>` shows the progress (status `queued`,
`running`, `uploaded`, `completed`...) and the job's attempts. Per-record validation problems are
part of the run, never an error status. CSRF does not apply (no cookies: every call carries its key).
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, g, jsonify, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from activation.api_keys import check_api_key
from activation.errors import ConfigurationError, NotFoundError
from activation.jobs.push import accept_push, run_progress
from activation.json_limits import JsonTooDeep, check_depth
from activation.provisioning.readers import InputFileError
from portal.extensions import db, request_context, runtime

bp = Blueprint("api", __name__, url_prefix="/api/v1")
logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000  # tighter than the app-wide limit: about 3,000 workers per request
MAX_WORKERS = 5_000


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"status": status, "message": message, "request_id": g.get("request_id")}}), status


@bp.before_request
def _authenticate() -> tuple[Response, int] | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    check = check_api_key(db(), token if scheme.lower() == "bearer" else None, context=request_context(),
                          clock=runtime().clock)
    if check.throttled:
        response, status = _error(429, "too many requests with a wrong API key from this address; try again later")
        response.headers["Retry-After"] = str(check.retry_after)
        return response, status
    client = check.client
    if client is None:
        response, status = _error(401, "a valid API key is required: send 'Authorization: Bearer <key>'")
        challenge = 'Bearer realm="activation-api"'
        if scheme.lower() == "bearer" and token:
            challenge += ', error="invalid_token"'
        response.headers["WWW-Authenticate"] = challenge
        return response, status
    g.api_client_id, g.api_client_name = client.id, client.name
    return None


@bp.post("/workers")
def push_workers():  # type: ignore[no-untyped-def]
    limit = min(MAX_BODY_BYTES, runtime().settings.portal.max_request_bytes)
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"the body is larger than {limit} bytes; split the workers over several requests")
    request.max_content_length = limit
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return _error(413, f"the body is larger than {limit} bytes; split the workers over several requests")
    try:
        check_depth(body)
    except JsonTooDeep as exc:
        return _error(400, f"{exc}; send a flat JSON array of worker objects")
    try:
        workers = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "the body is not valid JSON; send a JSON array of worker objects")
    if isinstance(workers, dict) and set(workers) == {"rows"}:  # Microsoft's Logic Apps sample: {"rows": [...]}
        workers = workers["rows"]
    if not isinstance(workers, list) or not workers:
        return _error(400, "the body must be a non-empty JSON array of worker objects (or {\"rows\": [...]})")
    if len(workers) > MAX_WORKERS:
        return _error(413, f"{len(workers)} workers in one request; send at most {MAX_WORKERS}")
    try:
        run = accept_push(db(), runtime().deps(request_context()), workers, client_id=g.api_client_id,
                          client_name=g.api_client_name, body=body)
    except InputFileError as exc:
        return _error(400, str(exc))
    except ConfigurationError as exc:
        logger.error("push API run refused on configuration: %s", exc)
        return _error(503, "provisioning is not configured on this server; contact the IT operators")
    location = url_for("api.get_run", run_id=run.id)
    response = jsonify({"run_id": run.id, "status": run.status, "location": location,
                        "message": "accepted: the run is queued; follow the location for its progress"})
    response.headers["Location"] = location
    return response, 202


@bp.get("/runs/<int:run_id>")
def get_run(run_id: int):  # type: ignore[no-untyped-def]
    try:
        return jsonify(run_progress(db(), run_id, g.api_client_id))
    except NotFoundError:
        return _error(404, f"no provisioning run {run_id} for this API key")
