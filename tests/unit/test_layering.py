"""The dependency rule: the core never imports the web layer; the emulator never imports us."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(package: str) -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module))
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append((str(path.relative_to(ROOT)), arg.value))
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("activation", {"flask", "werkzeug", "flask_wtf", "flask_session", "portal"}),
        ("entra_emulator", {"activation", "portal"}),
    ],
)
def test_package_does_not_import_forbidden_layers(package: str, forbidden: set[str]) -> None:
    offenders = [(f, m) for f, m in imported_modules(package) if m.split(".")[0] in forbidden]
    assert offenders == []


def test_the_rule_checker_sees_imports() -> None:
    assert ("portal/__init__.py", "flask") in imported_modules("portal")
