"""docs/security.md names, for each threat, the test that proves its mitigation: those tests must exist."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "security.md"


def test_every_test_the_threat_model_cites_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    cited_files = set(re.findall(r"`(tests/[\w/]+\.py)", text))
    assert len(cited_files) >= 15
    for path in cited_files:
        assert (REPO_ROOT / path).is_file(), path
    names = set(re.findall(r"::(test_\w+)", text))
    assert len(names) >= 40
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (REPO_ROOT / "tests").rglob("test_*.py"))
    missing = sorted(name for name in names if f"def {name}(" not in sources)
    assert not missing, f"docs/security.md cites tests that do not exist: {missing}"


def test_every_security_test_module_is_cited() -> None:
    text = DOC.read_text(encoding="utf-8")
    modules = sorted(p.name for p in (REPO_ROOT / "tests" / "security").glob("test_*.py")
                     if p.name != "test_threat_model.py")
    uncited = [name for name in modules if name not in text]
    assert not uncited, f"add these to docs/security.md: {uncited}"
