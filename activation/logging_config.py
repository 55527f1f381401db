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
    """Install one handler on the root logger with the redaction filter. Idempotent; later calls add filters."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "_activation", False):
            # Already installed (e.g. by the CLI in the same process): add filters it lacks, in front.
            present = {type(existing) for existing in handler.filters}
            handler.filters[:0] = [flt for flt in extra_filters if type(flt) not in present]
            root.setLevel(level)
            return
    handler = logging.StreamHandler()
    handler._activation = True  # type: ignore[attr-defined]
    for flt in (*extra_filters, DefaultRequestIdFilter(), RedactingFilter()):
        handler.addFilter(flt)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
