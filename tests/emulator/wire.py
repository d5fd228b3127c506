"""Requests as raw bytes on a socket (a helper module, not tests): what a browser, or anything
that is not boto3, would send to the emulator; signed with its credentials when asked."""

from __future__ import annotations

import json
import socket

from mlinfra.emulator.access import Access


def send(port: int, request: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send one request as given; the status, headers (lower-cased names) and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def request(method: str, target: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """The bytes of an HTTP/1.1 request; `headers` are sent exactly as given (no Host added)."""
    lines = [f"{method} {target} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def signed(
    access: Access, method: str, target: str, body: bytes = b"", headers: dict | None = None
) -> dict[str, str]:
    """`headers` with the Host a loopback client sends and a valid SigV4 signature."""
    host = access.url.removeprefix("http://")
    return {"Host": host, **access.signed_headers(method, target, body, headers or {})}


def error_of(body: bytes) -> tuple[str, str]:
    """The AWS error shape's code and message."""
    document = json.loads(body)
    return document["__type"], document["message"]
