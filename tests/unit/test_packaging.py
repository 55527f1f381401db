"""Every Python package of the project is in the distribution: a non-editable install must not lose one."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_directory_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("activation", "portal", "entra_emulator")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found == listed
