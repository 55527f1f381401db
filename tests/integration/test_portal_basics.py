"""The app factory: health, readiness, error pages, security headers, CSRF and request ids."""

import logging

import pytest
from flask import Flask, abort

from activation.runtime import Runtime
from portal import create_app


@pytest.fixture
def app(make_settings, database_url, db_engine) -> Flask:  # type: ignore[no-untyped-def]
    settings = make_settings(database={"url": database_url})
    app = create_app(runtime=Runtime.from_settings(settings, engine=db_engine))

    @app.route("/_test/abort/<int:status>")
    def _abort(status: int):  # type: ignore[no-untyped-def]
        abort(status)

    @app.route("/_test/crash")
    def _crash():  # type: ignore[no-untyped-def]
        raise RuntimeError("boom with password=CANARY inside")

    @app.post("/_test/form")
    def _form():  # type: ignore[no-untyped-def]
        return "accepted"

    return app


def test_health_and_readiness(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ok", "database": "ok"}


def test_readiness_fails_when_the_database_is_unreachable(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(database={"url": "postgresql://nobody@127.0.0.1:1/none"})
    client = create_app(settings).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("status", [400, 403, 404, 405, 429, 500])
def test_error_pages_show_a_request_id_and_no_stack_trace(app: Flask, status: int) -> None:
    response = app.test_client().get(f"/_test/abort/{status}", headers={"Accept": "text/html"})
    body = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.headers["X-Request-ID"] in body
    assert "Traceback" not in body
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_unhandled_exception_is_a_calm_500_and_logged_without_secrets(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/_test/crash", headers={"X-Request-ID": "abcdef123456"})
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "boom" not in body and "Traceback" not in body and "abcdef123456" in body
    assert any(getattr(r, "request_id", None) == "abcdef123456" for r in caplog.records)


def test_post_without_csrf_token_is_refused(app: Flask) -> None:
    response = app.test_client().post("/_test/form", data={"x": "1"})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


def test_untrusted_forwarded_for_is_ignored(app: Flask) -> None:
    from flask import g

    with app.test_request_context("/", headers={"X-Forwarded-For": "198.51.100.7"},
                                  environ_base={"REMOTE_ADDR": "10.0.0.1"}):
        app.preprocess_request()
        assert g.client_ip == "10.0.0.1"


def test_the_referrer_meta_tag_agrees_with_the_header(app: Flask) -> None:
    body = app.test_client().get("/").get_data(as_text=True)
    assert '<meta name="referrer" content="same-origin">' in body


def _https_form_app(make_settings, database_url, db_engine) -> Flask:  # type: ignore[no-untyped-def]
    settings = make_settings(database={"url": database_url}, portal={"public_url": "https://activate.example"})
    app = create_app(runtime=Runtime.from_settings(settings, engine=db_engine))

    @app.route("/_test/form", methods=["GET", "POST"])
    def _form():  # type: ignore[no-untyped-def]
        from flask_wtf.csrf import generate_csrf

        return generate_csrf()

    return app


@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ({"Origin": "https://activate.example"}, True),
        ({"Origin": "https://ACTIVATE.example:443"}, True),
        ({"Referer": "https://activate.example/a/tok/code"}, True),
        ({}, False),  # over https the browser must say where the form came from
        ({"Origin": "null"}, False),
        ({"Origin": "https://evil.example"}, False),
        ({"Origin": "https://activate.example.evil.example"}, False),
        ({"Origin": "http://activate.example"}, False),
        ({"Referer": "https://evil.example/https://activate.example/"}, False),
        ({"Origin": "https://evil.example", "Referer": "https://activate.example/"}, False),
    ],
)
def test_form_posts_over_https_need_our_origin_and_the_token(  # type: ignore[no-untyped-def]
    make_settings, database_url, db_engine, headers: dict, accepted: bool
) -> None:
    """Behind the proxy the Host header is the proxy's business: the origin is checked against
    ACTIVATION_PUBLIC_URL. The Flask-WTF token is still required on top."""
    app = _https_form_app(make_settings, database_url, db_engine)
    client = app.test_client()
    token = client.get("/_test/form", base_url="https://internal-upstream:8000").get_data(as_text=True)
    response = client.post("/_test/form", base_url="https://internal-upstream:8000", headers=headers,
                           data={"csrf_token": token})
    assert (response.status_code == 200) is accepted, response.status_code
    if not accepted:
        assert "This form has expired" in response.get_data(as_text=True)
    without_token = client.post("/_test/form", base_url="https://internal-upstream:8000",
                                headers={"Origin": "https://activate.example"})
    assert without_token.status_code == 400


@pytest.mark.parametrize(("env", "status"), [("demo", 200), ("test", 404), ("development", 404)])
def test_the_demo_mailbox_exists_only_in_demo(make_settings, database_url, db_engine, env: str, status: int) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(env=env, database={"url": database_url})
    app = create_app(runtime=Runtime.from_settings(settings, engine=db_engine))
    assert app.test_client().get("/_demo/mailbox/").status_code == status
