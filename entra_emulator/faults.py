"""Injected faults: status codes (429 with Retry-After, 5xx, ...) and latency, matched by glob."""

from __future__ import annotations

import fnmatch
import random
import time
import uuid

from flask import Response

from .graph_errors import aad_error, graph_error
from .store import Store

DEFAULT_CODES = {
    400: ("BadRequest", "The request is invalid (injected fault)."),
    401: ("InvalidAuthenticationToken", "Access token validation failure (injected fault)."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("Request_ResourceNotFound", "Resource does not exist (injected fault)."),
    429: ("TooManyRequests", "Too many requests. Please retry after the delay given in Retry-After."),
    500: ("generalException", "An internal server error occurred (injected fault)."),
    502: ("BadGateway", "Bad gateway (injected fault)."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable. Please retry later."),
    504: ("GatewayTimeout", "The gateway timed out (injected fault)."),
}
FAULT_FIELDS = ("method", "path", "status", "retry_after", "times", "delay", "code", "message", "ratio",
                "statuses")


class FaultError(ValueError):
    pass


def normalise(raw: dict) -> dict:
    """Validate a fault from the control API."""
    if not isinstance(raw, dict):
        raise FaultError("the body must be a JSON object")
    unknown = set(raw) - set(FAULT_FIELDS)
    if unknown:
        raise FaultError(f"unknown fault fields: {sorted(unknown)}")
    fault = {
        "id": str(uuid.uuid4()),
        "method": (raw.get("method") or "*").upper(),
        "path": raw.get("path") or "*",
        "status": raw.get("status"),
        "retry_after": raw.get("retry_after"),
        "times": raw.get("times", 1),
        "delay": float(raw.get("delay") or 0.0),
        "code": raw.get("code"),
        "message": raw.get("message"),
        "ratio": raw.get("ratio", 1.0),  # the share of matching requests that get the fault
        "statuses": raw.get("statuses"),  # pick one of these at random per hit, e.g. [429, 503]
        "hits": 0,
    }
    if not isinstance(fault["ratio"], int | float) or not 0 < fault["ratio"] <= 1:
        raise FaultError("ratio must be a number in (0, 1]")
    if fault["statuses"] is not None:
        if not isinstance(fault["statuses"], list) or not fault["statuses"] or not all(
                isinstance(code, int) and 100 <= code <= 599 for code in fault["statuses"]):
            raise FaultError("statuses must be a non-empty list of HTTP status codes")
        fault["status"] = fault["status"] or fault["statuses"][0]
    if fault["status"] is not None and not (isinstance(fault["status"], int) and 100 <= fault["status"] <= 599):
        raise FaultError("status must be an HTTP status code or null")
    if fault["status"] is None and fault["delay"] <= 0:
        raise FaultError("a fault needs a status, a delay, or both")
    if fault["times"] is not None and (not isinstance(fault["times"], int) or fault["times"] < 1):
        raise FaultError("times must be a positive integer or null (forever)")
    if fault["delay"] < 0 or fault["delay"] > 120:
        raise FaultError("delay must be between 0 and 120 seconds")
    return fault


def take(store: Store, method: str, path: str) -> dict | None:
    """The first fault matching this request, consuming one of its ``times``."""
    with store.lock:
        for fault in list(store.faults):
            if fault["method"] not in ("*", method.upper()):
                continue
            if not fnmatch.fnmatchcase(path, fault["path"]):
                continue
            if fault["ratio"] < 1 and random.random() >= fault["ratio"]:  # noqa: S311 - fault injection
                continue
            fault["hits"] += 1
            if fault["times"] is not None:
                fault["times"] -= 1
                if fault["times"] <= 0:
                    store.faults.remove(fault)
            chosen = dict(fault)
            if fault["statuses"]:
                chosen["status"] = random.choice(fault["statuses"])  # noqa: S311 - fault injection
            return chosen
    return None


def apply(fault: dict, path: str) -> Response | None:
    if fault["delay"]:
        time.sleep(fault["delay"])
    status = fault["status"]
    if status is None:
        return None
    default_code, default_message = DEFAULT_CODES.get(status, ("UnknownError", "Injected fault."))
    code, message = fault["code"] or default_code, fault["message"] or default_message
    headers = {}
    if fault["retry_after"] is not None:
        headers["Retry-After"] = str(fault["retry_after"])
    if path.startswith(("/v1.0/", "/beta/")):
        return graph_error(status, code, message, headers)
    response = aad_error(status, fault["code"] or "temporarily_unavailable", 90033, message)
    for name, value in headers.items():
        response.headers[name] = value
    return response
