"""Logging set-up for the composition roots (portal factory and CLI). Never called at import."""

from __future__ import annotations

import logging

from activation.redaction import RedactingFilter

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class DefaultRequestIdFilter(logging.Filter):
    """Guarantees every record has a request_id attribute so the format never fails."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = "-"
        return True


def configure_logging(level: int | str = logging.INFO, extra_filters: tuple[logging.Filter, ...] = ()) -> None:
    """Install one handler on the root logger with the redaction filter. Idempotent."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "_activation", False):
            root.setLevel(level)
            return
    handler = logging.StreamHandler()
    handler._activation = True  # type: ignore[attr-defined]
    for flt in (*extra_filters, DefaultRequestIdFilter(), RedactingFilter()):
        handler.addFilter(flt)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
