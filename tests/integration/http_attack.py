"""Raw-socket HTTP for the edge tests (issue 22): requests no well-behaved client library sends.

`raw(port, parts)` writes the given bytes in parts (with pauses between them, as a slow or
segmenting client does), then reads the whole answer of a `Connection: close` request. A server
may answer and close while a large body is still being sent (413): the send error is swallowed
and the answer read. `MALFORMED` is a list of request heads a fuzzer or attacker sends.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

COUNT = {"requests": 0}


@dataclass
class Answer:
    status: int | None  # None: the server closed without an HTTP answer
    headers: dict[str, str]
    body: bytes


def raw(port: int, parts: list[bytes] | bytes, pause: float = 0.0, timeout: float = 30.0) -> Answer:
    COUNT["requests"] += 1
    parts = [parts] if isinstance(parts, bytes) else parts
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            for i, part in enumerate(parts):
                if i and pause:
                    time.sleep(pause)
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1."):
        return Answer(None, {}, data)
    headers = {}
    for line in lines[1:]:
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    return Answer(int(lines[0].split()[1]), headers, body)


def request(method: str, path: str, *, token: str | None = None, body: bytes | None = None,
            headers: dict[str, str] | None = None, chunked: int | None = None) -> list[bytes]:
    """The bytes of one request; `chunked=n`: the body in chunks of n bytes, one part each."""
    head = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body is None:
        return [("\r\n".join(head) + "\r\n\r\n").encode()]
    if chunked:
        head.append("Transfer-Encoding: chunked")
        parts = [("\r\n".join(head) + "\r\n\r\n").encode()]
        for i in range(0, len(body), chunked):
            piece = body[i:i + chunked]
            parts.append(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        parts.append(b"0\r\n\r\n")
        return parts
    head.append(f"Content-Length: {len(body)}")
    return [("\r\n".join(head) + "\r\n\r\n").encode(), body]


PNR = "19121212-1212"


def malformed(token: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of hostile requests; none may get a 5xx, a 200, or leak into the log."""
    t = token.encode()
    return [
        ("bearer then newline then token", b"GET /cases/PN-1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n " + t
         + b"\r\nConnection: close\r\n\r\n"),
        ("token in a broken header line", b"GET /diary HTTP/1.1\r\nHost: x\r\nAuthorization Bearer " + t
         + b"\r\nConnection: close\r\n\r\n"),
        ("token in the request line", b"GET /x?token=" + t + b" HTTP/1.1 extra\r\nConnection: close\r\n\r\n"),
        ("personnummer in the query", f"GET /diary?case_id=x&patient={PNR} HTTP/1.1\r\nHost: x\r\n"
         "Connection: close\r\n\r\n".encode()),
        ("personnummer in a bad request line", f"GET /diary?patient={PNR} HTTP/9.9\r\nConnection: close\r\n\r\n"
         .encode()),
        ("personnummer percent-encoded", b"GET /cases/19121212%2D1212?p=19121212%2D1212 HTTP/1.1\r\nHost: x\r\n"
         b"Connection: close\r\n\r\n"),
        ("non-UTF-8 token", b"GET /diary?case_id=x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\xc3(\r\n"
         b"Connection: close\r\n\r\n"),
        ("latin-1 token", b"GET /diary HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer pn_\xe5\xe4\xf6\r\n"
         b"Connection: close\r\n\r\n"),
        ("NUL in the path", b"GET /cases/\x00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("no version", b"GET /\r\n\r\n"),
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256))),
        ("negative length", b"POST /complaints HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\nAuthorization: Bearer "
         + t + b"\r\nConnection: close\r\n\r\n{}"),
        ("absurd length", b"POST /complaints HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n"
         b"Authorization: Bearer " + t + b"\r\nConnection: close\r\n\r\n{}"),
        ("length and chunked", b"POST /complaints HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: "
         b"chunked\r\nAuthorization: Bearer " + t + b"\r\nConnection: close\r\n\r\n0\r\n\r\n"),
        ("bad chunk size", b"POST /complaints HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nAuthorization: "
         b"Bearer " + t + b"\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
        ("huge header", b"GET /diary HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 70_000 + b"\r\nConnection: close\r\n\r\n"),
        ("many headers", b"GET /diary HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(300))
         + b"Connection: close\r\n\r\n"),
        ("header without colon", b"GET /diary HTTP/1.1\r\nHost x\r\nConnection: close\r\n\r\n"),
        ("obsolete line folding", b"GET /diary HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n\t" + t
         + b"\r\nConnection: close\r\n\r\n"),
        ("unknown method", b"BREW /diary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("path traversal", b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("absolute-form target", b"GET http://evil/diary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    ]
