"""The thin Flask layer. `create_app` is the portal's composition root."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from activation.config import Settings, load_settings
from activation.logging_config import configure_logging
from activation.runtime import Runtime

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the portal. Settings default to `load_settings()`; tests pass their own (or a runtime)."""
    if runtime is None:
        runtime = Runtime.from_settings(settings or load_settings())
    settings = runtime.settings

    app = Flask(__name__, template_folder=str(TEMPLATES_DIR), static_folder="static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.portal.max_request_bytes,
        SESSION_COOKIE_NAME="__Host-activation" if _https(settings) else "activation",
        SESSION_COOKIE_SECURE=_https(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=3600,
        WTF_CSRF_TIME_LIMIT=3600,
        # The token stays; the origin half of CSRF is request_context.check_origin, which compares
        # Origin/Referer with ACTIVATION_PUBLIC_URL (Flask-WTF's own check wants a Referer on https and
        # compares it with the Host header, which behind a proxy is not ours to trust).
        WTF_CSRF_SSL_STRICT=False,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["activation"] = runtime

    from portal import api, database, errors, health, metrics, request_context, sessions, staff, starter

    app.session_interface = sessions.SlidingCookieSessionInterface()

    configure_logging(logging.INFO, extra_filters=(request_context.RequestIdLogFilter(),))
    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)  # bearer API keys, no cookies: CSRF does not apply
    request_context.init_app(app, csrf_exempt_blueprints={api.bp.name})
    database.init_app(app)
    errors.init_app(app)
    app.register_blueprint(health.bp)
    metrics.init_app(app)
    app.register_blueprint(starter.bp)
    from portal import wasnt_me  # issue 16: the "this wasn't me" link from notices

    app.register_blueprint(wasnt_me.bp)
    app.register_blueprint(api.bp)
    staff.init_app(app)
    if settings.env == "demo" and settings.mail.backend == "outbox":
        from portal import mailbox

        app.register_blueprint(mailbox.bp)
    app.jinja_env.globals.update(organisation_name=settings.portal.organisation_name,
                                 support_contact=settings.portal.support_contact)
    return app


def warm_up(app: Flask) -> int:
    """Compile every page and email template once, when a worker starts (config/gunicorn.conf.py's
    post_worker_init), instead of in the first request of each page in each worker; a template that
    does not compile stops the worker from starting rather than failing a user's request.
    Returns how many templates were compiled."""
    pages = [name for name in app.jinja_env.list_templates() if not name.startswith("email/")]
    for name in pages:
        app.jinja_env.get_template(name)
    runtime = app.extensions.get("activation")  # absent in another app served with this config (the bench floor)
    return len(pages) + (runtime.renderer.warm_up() if runtime is not None else 0)


def _https(settings: Settings) -> bool:
    return settings.portal.public_url.startswith("https://")
