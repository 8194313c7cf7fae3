"""The cloud's boundary: its pure modules import no ORM, its interface imports none of its internals, and
nothing outside ``certcenter/cloud`` imports anything of it but ``certcenter.cloud.api``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CLOUD = ROOT / "certcenter" / "cloud"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("name", ["pins.py", "envelope.py"])
def test_the_pure_modules_import_no_orm(name):
    imported = _imports(CLOUD / name)
    assert not [n for n in imported if n.startswith(("django.db", "django.contrib")) or ".models" in n]


def test_the_interface_imports_no_model_and_no_implementation():
    imported = _imports(CLOUD / "api.py")
    assert not [n for n in imported if n.startswith(("django.db", "certcenter.cloud.models", "certcenter.cloud.local"))]


def test_outside_the_cloud_only_its_interface_is_imported():
    offenders = {}
    for folder in ("accounts", "bankportal", "certcenter", "otp"):
        for path in (ROOT / folder).rglob("*.py"):
            if CLOUD in path.parents:
                continue
            used = sorted(
                n
                for n in _imports(path)
                if n.startswith("certcenter.cloud.") and not n.startswith("certcenter.cloud.api")
            )
            if used:
                offenders[str(path.relative_to(ROOT))] = used
    assert offenders == {}
