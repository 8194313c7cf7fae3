"""Imports flow one way (docs/architecture.md, "Import direction")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "certcenter", "otp")
PURE = ["accounts/idnumbers.py", "accounts/ages.py", "accounts/accountnumbers.py", "accounts/phones.py",
        "accounts/pins.py", "accounts/limits.py", "bankportal/crypto.py", "bankportal/audit/chain.py",
        "bankportal/notifications/backoff.py", "otp/securitycard.py", "otp/totp.py",
        "otp/additionalauth.py", "certcenter/ca/__init__.py", "certcenter/ca/common.py", "certcenter/ca/identity.py",
        "certcenter/ca/issue.py", "certcenter/ca/keys.py", "certcenter/ca/passwords.py", "certcenter/ca/revocation.py",
        "certcenter/ca/trust.py", "certcenter/ca/verify.py", "certcenter/ca/keyfile.py",
        "certcenter/signing.py",
        "certcenter/rules.py"]  # fmt: skip


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted(ROOT.glob("**/selectors.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_selectors_never_import_services(path):
    assert not [name for name in _imports(path) if "services" in name.split(".")]


@pytest.mark.parametrize("relative", PURE)
def test_pure_rule_modules_import_no_orm(relative):
    imported = _imports(ROOT / relative)
    assert not [name for name in imported if name.startswith(("django.db", "django.contrib")) or ".models" in name]


def test_the_shared_plumbing_imports_no_app():
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if n.split(".")[0] in APPS)
        for path in (ROOT / "bankportal").rglob("*.py")
        if "migrations" not in path.parts
    }
    assert {path: names for path, names in offenders.items() if names} == {}
