"""docs/domain.md stays true: every test and code path it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "domain.md").read_text(encoding="utf-8")


def test_every_test_named_in_docs_domain_md_exists():
    missing, last_file = [], None
    for m in re.finditer(r"`(tests/[\w/]+\.py)?(?:::)?(test_\w+)?`|`::(test_\w+)`", DOC):
        path, name, continued = m.group(1), m.group(2), m.group(3)
        if path:
            last_file = path
            if not (ROOT / path).exists():
                missing.append(path)
                continue
        name = name or continued
        if name and last_file and f"def {name}(" not in (ROOT / last_file).read_text(encoding="utf-8"):
            missing.append(f"{last_file}::{name}")
    assert missing == []


def test_every_file_named_in_docs_domain_md_exists():
    files = set(re.findall(r"`((?:services|shared|rules|tests)/[\w/.]+\.(?:py|yaml))", DOC))
    assert files and [f for f in sorted(files) if not (ROOT / f).exists()] == []
