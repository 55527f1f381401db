"""Masking of personal values for reports, logs and diffs: enough to recognise, never the whole value."""

from __future__ import annotations

from activation.masking import mask_email, mask_name, mask_phone, printable
from activation.provisioning.records import PERSONAL_FIELDS

__all__ = ["mask_email", "mask_name", "mask_phone", "mask_value"]

_MAX_SHOWN = 48


def mask_value(field: str, value: str) -> str:
    """The form of `value` that may appear in a report for `field`."""
    if not value:
        return ""
    if field in PERSONAL_FIELDS:
        if field == "personal_email":
            return mask_email(value)
        if field == "mobile":
            return mask_phone(value)
        return mask_name(value)
    shown = printable(value)
    return shown if len(shown) <= _MAX_SHOWN else shown[: _MAX_SHOWN - 3] + "..."
