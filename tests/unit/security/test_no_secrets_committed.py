"""No private key, API token or cloud key is committed (issue 11: secrets stay out of the repo).

Scans every file git tracks (`git ls-files`, so also files staged by others) for PEM private-key
headers, tokens of the form `pn token create` prints, AWS-like access keys, and token-file lines
(name:role:salt:hash) outside the docs' placeholders. Fails naming file and line, never the match.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

PATTERNS = {
    "PEM private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY-----"),
    "pn API token": re.compile(r"(?<![A-Za-z0-9_-])pn_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
    "AWS access key id": re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    "AWS secret key": re.compile(r"aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+=]{40}"),
    "token file line": re.compile(r"^[^\s:#]{1,64}:(?:submitter|officer|ops):[0-9a-f]{16,}:[0-9a-f]{64}$", re.M),
}
SECRET_FILES = re.compile(r"(^|/)(deploy/secrets/|.*\.(pem|key|p12|jks|password)$|\.env$)")


def tracked() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60)
    return [p for p in out.stdout.decode().split("\0") if p]


def test_no_key_token_or_cloud_secret_in_tracked_files():
    found = []
    for name in tracked():
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        for kind, pattern in PATTERNS.items():
            for m in pattern.finditer(text):
                found.append(f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {kind}")
    assert not found, "secrets committed (remove them and rotate them):\n" + "\n".join(found)


def test_no_secret_files_tracked():
    bad = [n for n in tracked() if SECRET_FILES.search(n)]
    assert not bad, bad


def test_generated_secrets_directory_is_ignored():
    out = subprocess.run(["git", "check-ignore", "deploy/secrets/ca.key"], cwd=ROOT, capture_output=True, timeout=30)
    assert out.returncode == 0, "deploy/secrets/ must be in .gitignore"


@pytest.mark.parametrize("sample,kind", [
    ("-----BEGIN " + "RSA PRIVATE KEY-----", "PEM private key"),  # split: this file is scanned too
    ("-----BEGIN " + "PRIVATE KEY-----", "PEM private key"),
    ("-----BEGIN " + "EC PRIVATE KEY-----", "PEM private key"),
    ("pn_" + "A" * 43, "pn API token"),
    ("AKIA" + "ABCDEFGHIJKLMNOP", "AWS access key id"),
    ("case-system:officer:" + "ab" * 16 + ":" + "cd" * 32, "token file line"),
])
def test_the_patterns_catch_what_they_are_for(sample, kind):
    assert PATTERNS[kind].search(sample)


def test_a_real_generated_token_matches():
    from shared.web.auth import new_token

    token, entry = new_token("x", "ops")
    assert PATTERNS["pn API token"].fullmatch(token)
    assert PATTERNS["token file line"].search(entry.line())
