"""Flask app factory: request ids, fault injection, request recording, error envelopes."""

from __future__ import annotations

import json
import logging
import time
import uuid

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from . import control, faults, graph_provisioning, graph_users, identity, security_info
from .context import EXTENSION_KEY, EmulatorContext
from .graph_errors import GraphError, graph_error

log = logging.getLogger(__name__)
HIDDEN_HEADERS = {"authorization", "proxy-authorization", "cookie"}
BODY_RECORDED_SUFFIX = "/bulkUpload"


def create_app(context: EmulatorContext) -> Flask:
    app = Flask(__name__)
    app.extensions[EXTENSION_KEY] = context
    app.json.sort_keys = False
    app.url_map.strict_slashes = False

    app.register_blueprint(identity.bp)
    app.register_blueprint(control.bp, url_prefix="/_emulator")
    app.register_blueprint(security_info.control_bp, url_prefix="/_emulator")
    app.register_blueprint(security_info.page_bp)
    for version in ("v1.0", "beta"):
        suffix = "" if version == "v1.0" else "_beta"
        app.register_blueprint(graph_users.bp, url_prefix=f"/{version}", name=f"graph_users{suffix}")
        app.register_blueprint(
            graph_provisioning.bp, url_prefix=f"/{version}", name=f"graph_provisioning{suffix}"
        )
        app.register_blueprint(
            security_info.graph_bp, url_prefix=f"/{version}", name=f"graph_security_info{suffix}"
        )

    @app.before_request
    def start_request():
        g.started = time.time()
        g.request_id = str(uuid.uuid4())
        g.client_request_id = request.headers.get("client-request-id") or g.request_id
        if request.path.startswith(("/_emulator", "/mysecurityinfo")):
            return None
        fault = faults.take(context.store, request.method, request.path)
        if fault is not None:
            return faults.apply(fault, request.path)
        return None

    @app.after_request
    def finish_request(response):
        response.headers["request-id"] = g.get("request_id", "")
        response.headers["client-request-id"] = g.get("client_request_id", "")
        if not request.path.startswith("/_emulator"):
            _record(context, response.status_code)
        return response

    @app.errorhandler(GraphError)
    def graph_error_handler(exc: GraphError):
        return exc.response()

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 404:
            segment = request.path.strip("/").split("/")[-1]
            return graph_error(404, "NotFound", f"Resource not found for the segment '{segment}'.")
        headers = {}
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        if exc.code == 405:
            return graph_error(
                405, "MethodNotAllowed",
                f"The HTTP method '{request.method}' is not allowed for the requested resource.", headers,
            )
        return graph_error(exc.code or 500, "BadRequest", exc.description or "Bad request.", headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("emulator error on %s %s", request.method, request.path)
        return graph_error(500, "generalException", "An unexpected error occurred in the emulator.")

    return app


def _record(context: EmulatorContext, status: int) -> None:
    """Keep a request summary. Bodies only for bulk uploads: others may hold secrets."""
    entry = {
        "method": request.method,
        "path": request.path,
        "query": request.query_string.decode("latin-1"),
        "args": {key: request.args.getlist(key) for key in request.args},
        "status": status,
        "timestamp": g.get("started", time.time()),
        "duration": time.time() - g.get("started", time.time()),
        "requestId": g.get("request_id"),
        "clientRequestId": g.get("client_request_id"),
        "headers": {k.lower(): v for k, v in request.headers.items() if k.lower() not in HIDDEN_HEADERS},
    }
    if request.path.endswith(BODY_RECORDED_SUFFIX) and request.method == "POST":
        try:
            entry["body"] = json.loads(request.get_data(cache=True) or b"null")
        except ValueError:
            entry["body"] = None
    with context.store.lock:
        context.store.requests.append(entry)
