"""Domain errors. Adapters translate library exceptions into these at their boundary."""

from __future__ import annotations


class ActivationError(Exception):
    """Root of every error the core raises on purpose."""


class ConfigurationError(ActivationError):
    """Settings are missing or invalid; the message names the variable and the fix."""


class NotFoundError(ActivationError):
    """A record the caller asked for does not exist."""


class StateError(ActivationError):
    """A transition was asked for that the current state does not allow."""
