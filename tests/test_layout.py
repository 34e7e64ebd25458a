"""The arrows point inward: the domain imports no framework, queue or network library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"aiohttp", "redis", "rq", "imapclient", "twilio", "workers", "integrations"}
# Edges and composition roots inside triage/ that may use them.
ALLOWED_DIRS = {"web", "store", "cli"}


def domain_modules() -> list[Path]:
    return [
        path
        for path in sorted((ROOT / "triage").rglob("*.py"))
        if path.relative_to(ROOT / "triage").parts[0] not in ALLOWED_DIRS
    ]


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_there_are_domain_modules_to_check() -> None:
    names = {path.name for path in domain_modules()}
    assert {"models.py", "routing.py", "settings.py"} <= names


@pytest.mark.parametrize("path", domain_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_module_imports_no_edge_library(path: Path) -> None:
    assert not imported_roots(path) & FORBIDDEN


def test_store_imports_no_framework_or_edge() -> None:
    """The store may speak SQL and Redis, nothing else of the outside."""
    for path in (ROOT / "triage" / "store").rglob("*.py"):
        assert not imported_roots(path) & (FORBIDDEN - {"redis"}), path
