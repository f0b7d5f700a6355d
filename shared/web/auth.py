"""API tokens: salted hashes per client with a role, checked in constant time.

A token file (PN_TOKENS_FILE) or PN_TOKENS holds one client per line:
    name:role:salt_hex:sha256_hex      # sha256(salt || token), never the token itself
`pn token create` prints a new token once, with its line. Roles: submitter, officer, ops.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

ROLES = ("submitter", "officer", "ops")
TOKEN_PREFIX = "pn_"


class TokenConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Caller:
    name: str
    role: str


@dataclass(frozen=True)
class TokenEntry:
    name: str
    role: str
    salt: bytes
    digest: bytes

    def line(self) -> str:
        return f"{self.name}:{self.role}:{self.salt.hex()}:{self.digest.hex()}"


def _digest(salt: bytes, token: str) -> bytes:
    return hashlib.sha256(salt + token.encode()).digest()


def new_token(name: str, role: str) -> tuple[str, TokenEntry]:
    if role not in ROLES:
        raise TokenConfigError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if not name or ":" in name or len(name) > 64:
        raise TokenConfigError("a token name is 1-64 characters without ':'")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    return token, TokenEntry(name, role, salt, _digest(salt, token))


def parse_entries(text: str, origin: str) -> list[TokenEntry]:
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 4:
            raise TokenConfigError(f"{origin}:{number}: expected name:role:salt_hex:sha256_hex")
        name, role, salt_hex, digest_hex = parts
        if role not in ROLES:
            raise TokenConfigError(f"{origin}:{number}: unknown role {role!r}")
        try:
            salt, digest = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
        except ValueError:
            raise TokenConfigError(f"{origin}:{number}: salt and hash must be hex") from None
        if len(digest) != 32 or len(salt) < 8:
            raise TokenConfigError(f"{origin}:{number}: hash must be SHA-256 and salt at least 8 bytes")
        entries.append(TokenEntry(name, role, salt, digest))
    return entries


class TokenRegistry:
    def __init__(self, entries: list[TokenEntry]) -> None:
        self.entries = entries

    @classmethod
    def from_settings(cls, settings: object) -> TokenRegistry:
        entries: list[TokenEntry] = []
        path = getattr(settings, "tokens_file", None)
        if path is not None:
            try:
                entries += parse_entries(Path(path).read_text(), str(path))
            except OSError as exc:
                raise TokenConfigError(f"PN_TOKENS_FILE={path}: {exc.strerror}") from None
        inline = getattr(settings, "tokens", None)
        if inline is not None:
            entries += parse_entries(inline.get_secret_value().replace(";", "\n"), "PN_TOKENS")
        return cls(entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def identify(self, token: str) -> Caller | None:
        """The caller for a presented token, comparing every entry in constant time."""
        found = None
        for entry in self.entries:
            if hmac.compare_digest(_digest(entry.salt, token), entry.digest):
                found = Caller(entry.name, entry.role)
        return found
