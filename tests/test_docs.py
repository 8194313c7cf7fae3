"""The architecture page's module map names only files and folders that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _module_map_paths() -> list[Path]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"## Module map\n.*?```\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no module map block"
    paths: list[Path] = []
    parents: list[tuple[int, Path]] = []  # (indent, folder) of the enclosing folders
    for line in block.group(1).splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        first = re.match(r"[\w./-]+(?:,\s+[\w./-]+)*", line.strip())
        assert first, line
        names = re.split(r",\s+", first.group(0))
        while parents and parents[-1][0] >= indent:
            parents.pop()
        base = parents[-1][1] if parents else ROOT
        for name in names:
            paths.append(base / name.rstrip("/"))
        if len(names) == 1 and names[0].endswith("/"):
            parents.append((indent, base / names[0].rstrip("/")))
    return paths


def test_every_file_in_the_module_map_exists():
    paths = _module_map_paths()
    assert len(paths) > 40
    missing = [str(p.relative_to(ROOT)) for p in paths if not p.exists()]
    assert missing == []
