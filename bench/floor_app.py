"""The floor: a bare Flask POST returning a small JSON, served by the same gunicorn as the portal."""

from __future__ import annotations

from flask import Flask, jsonify


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return jsonify(status="ok")

    @app.post("/floor")
    def floor():  # type: ignore[no-untyped-def]
        return jsonify(ok=True, step="floor")

    return app
