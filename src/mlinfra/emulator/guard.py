"""What the emulator refuses before anything else: requests that may come from a web page.

The emulator runs pipeline code and unpickles models for its user, so a browser must never
drive it, in any mode (`--insecure-any-credentials` included). Checked on every request,
before its body is read:

- `Host` must name the emulator as a loopback client does: `127.0.0.1`, `localhost` or `[::1]`
  with the emulator's own port (once, and present). A page on `evil.example` whose DNS name
  was rebound to 127.0.0.1 sends `Host: evil.example:PORT` and is refused.
- `Origin`, when present, must be the emulator itself: browsers send it on every cross-origin
  POST (also `mode: "no-cors"` ones), and boto3 and the CLI never send it.
- `Sec-Fetch-Site`, when present (browsers send it on every request), must be `same-origin`
  or `none`; a cross-site GET (an `<img>`) carries no Origin but is refused by this.
- `OPTIONS` (a CORS preflight) is refused, and no response ever carries an
  `Access-Control-*` header, so no page gets permission to read or send anything.

These refusals are 403 `AccessDeniedException` answers in AWS's error shape.

Each route also takes only the content types its clients send (`content_type`), so a
cross-site "simple" request (`text/plain`, `application/x-www-form-urlencoded`,
`multipart/form-data`, which need no preflight) reaches no handler even if a browser left out
its Origin; those answers are 415 `UnsupportedMediaTypeException`.
"""

from __future__ import annotations

from email.message import Message
from functools import cache

from mlinfra.emulator.kit.errors import ApiError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# What a browser may send cross-site without a preflight (the CORS-safelisted types).
FORM_TYPES = frozenset(("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"))
FETCH_SITES = frozenset(("same-origin", "none"))
DEFAULT_HTTP_PORT = 80


def admit(method: str, target: str, headers: Message, port: int) -> None:
    """Refuse (ApiError, 403) a request that a web page, not a local client, may have sent."""
    hosts = headers.get_all("Host") or []
    if len(hosts) != 1 or not _is_loopback(hosts[0], port):
        shown = repr(hosts[0]) if len(hosts) == 1 else f"{len(hosts)} Host headers"
        raise _denied(
            f"The emulator answers only requests addressed to it on loopback "
            f"({', '.join(f'{name}:{port}' for name in LOOPBACK_NAMES)}): {shown} refused "
            "(a web page whose name was made to resolve to 127.0.0.1 sends its own name)."
        )
    for origin in headers.get_all("Origin") or []:
        if origin.strip().lower() not in _own_origins(port):
            raise _denied(
                f"Requests from web pages are refused: Origin {origin!r} is not the emulator. "
                "It serves its user's own processes (boto3, the mlinfra CLI), never browsers."
            )
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site.strip().lower() not in FETCH_SITES:
        raise _denied(
            f"Requests from web pages are refused (Sec-Fetch-Site: {site}): the emulator "
            "serves its user's own processes, never browsers."
        )
    if method == "OPTIONS":
        raise _denied(
            "The emulator grants no cross-origin access: CORS preflight (OPTIONS) is refused."
        )
    if not target.startswith("/"):
        raise ApiError("ValidationException", f"Invalid request target {target[:100]!r}.", 400)


def content_type(headers: Message) -> str | None:
    """The request's media type without parameters, lower-cased (`text/csv`), or None."""
    value = headers.get("Content-Type")
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def require_content_type(headers: Message, accepted: tuple[str, ...], route: str) -> None:
    """Refuse (415) a body of any type but those listed, or one with no type."""
    found = content_type(headers)
    if found not in accepted:
        raise ApiError(
            "UnsupportedMediaTypeException",
            f"{route} takes Content-Type {' or '.join(accepted)}, not "
            f"{found or 'a body without one'}.",
            415,
        )


def refuse_form_types(headers: Message, route: str) -> None:
    """Refuse (415) the content types a web page can send cross-site; any other is the caller's."""
    found = content_type(headers)
    if found in FORM_TYPES:
        raise ApiError(
            "UnsupportedMediaTypeException",
            f"{route} refuses Content-Type {found}: it is what a web page can send from another "
            "site, so the emulator takes no body of that type (SageMaker's framework containers "
            "read none of them). Send text/csv, application/json, or another type.",
            415,
        )


def _is_loopback(host: str, port: int) -> bool:
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host.partition("]")
        name += "]"
    else:
        name, _, rest = host.partition(":")
        rest = ":" + rest if rest else ""
    if name not in LOOPBACK_NAMES:
        return False
    if not rest:
        return port == DEFAULT_HTTP_PORT
    return rest[1:].isdigit() and rest.startswith(":") and int(rest[1:]) == port


@cache
def _own_origins(port: int) -> frozenset[str]:
    suffix = "" if port == DEFAULT_HTTP_PORT else f":{port}"
    return frozenset(f"http://{name}{suffix}" for name in LOOPBACK_NAMES)


def _denied(message: str) -> ApiError:
    return ApiError("AccessDeniedException", message, 403)
