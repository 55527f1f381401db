"""/metrics for Prometheus (404 unless ACTIVATION_METRICS_TOKEN is set), and step timing per endpoint."""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Flask, Response, abort, g, request

from portal.extensions import runtime

bp = Blueprint("metrics", __name__)
UNTIMED_BLUEPRINTS = frozenset({"health", "metrics"})


@bp.get("/metrics")
def metrics() -> Response:
    settings = runtime().settings
    token = settings.metrics.token
    if not token:
        abort(404)
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
        response = Response("A bearer token is needed.\n", status=401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = runtime().metrics.exposition()
    return Response(body, content_type=content_type)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe_step(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None and request.endpoint and request.endpoint != "static" \
            and request.blueprint not in UNTIMED_BLUEPRINTS:
        runtime().metrics.observe("activation_step_seconds", time.perf_counter() - started,
                                  {"step": f"{request.method} {request.endpoint}"})
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    if app.extensions["activation"].metrics.enabled:  # building it starts counting audit events
        app.before_request(_start_timer)
        app.after_request(_observe_step)
