"""Error bodies in Microsoft's two shapes: the Graph envelope and the Entra (AADSTS) token error."""

from __future__ import annotations

import uuid

from flask import Response, g, jsonify

from .store import iso, utc_now


def request_id() -> str:
    return getattr(g, "request_id", None) or str(uuid.uuid4())


def client_request_id() -> str:
    return getattr(g, "client_request_id", None) or request_id()


def graph_error(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": iso(utc_now()).split(".")[0],
                "request-id": request_id(),
                "client-request-id": client_request_id(),
            },
        }
    }
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = str(value)
    return response


def aad_error(status: int, error: str, aadsts: int, description: str) -> Response:
    trace_id = request_id()
    now = utc_now()
    text = (
        f"AADSTS{aadsts}: {description} Trace ID: {trace_id} Correlation ID: {client_request_id()} "
        f"Timestamp: {now.strftime('%Y-%m-%d %H:%M:%SZ')}"
    )
    response = jsonify(
        {
            "error": error,
            "error_description": text,
            "error_codes": [aadsts],
            "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": trace_id,
            "correlation_id": client_request_id(),
            "error_uri": f"https://login.microsoftonline.com/error?code={aadsts}",
        }
    )
    response.status_code = status
    return response


class GraphError(Exception):
    """Raise from a Graph view to answer with the Graph error envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        return graph_error(self.status, self.code, self.message)


def not_found_user(key: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
    )
