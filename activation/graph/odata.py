"""OData query helpers."""

from __future__ import annotations


def literal(value: str) -> str:
    """A quoted OData string literal; single quotes are escaped by doubling them."""
    return "'" + value.replace("'", "''") + "'"


def and_filter(*clauses: str | None) -> str | None:
    parts = [clause for clause in clauses if clause]
    return " and ".join(parts) if parts else None
