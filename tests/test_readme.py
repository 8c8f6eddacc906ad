"""The README's promise table names the tests that hold the bridge to each promise: every one of
them exists (a renamed or moved test would otherwise leave a promise without its test)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def promises() -> list[str]:
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## What it promises"):]
    table = table[: table.index("\n## ", 1)]
    return re.findall(r"`([\w/]+\.py(?:::\w+)?)`", table)


def test_every_test_the_readme_names_exists() -> None:
    refs = promises()
    assert len(refs) >= 30
    missing = []
    for ref in refs:
        file, _, name = ref.partition("::")
        path = ROOT / file if file.startswith("bench/") else ROOT / "tests" / file
        if not path.is_file():
            missing.append(ref)
            continue
        if name:
            defined = {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)}
            if name not in defined:
                missing.append(ref)
    assert missing == []
