"""What every response passes through: security headers, and the refusal of a NUL in the
address before any route sees it."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Pages carry no inline script or style, so the policy can forbid them outright: an
# injected <script> or style= does nothing even if escaping were ever missed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # No page needs a camera, a microphone, a location or a payment; none may ask.
    "Permissions-Policy": (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
        "interest-cohort=(), browsing-topics=()"
    ),
    # No other site's window keeps a handle on ours (window.opener), nor embeds our files.
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
NO_STORE = {"Cache-Control": "no-store"}
"""Everything but the static files: signed-in pages, the API, report downloads and join
pages hold what a shared computer's cache must not keep."""


def security_headers(path: str) -> dict[str, str]:
    """The headers every response to `path` carries."""
    return SECURITY_HEADERS if path.startswith("/static/") else SECURITY_HEADERS | NO_STORE


_STATIC_BYTES = [(k.lower().encode(), v.encode()) for k, v in security_headers("/static/").items()]
_PAGE_BYTES = [(k.lower().encode(), v.encode()) for k, v in security_headers("/").items()]


class SecurityHeaders:
    """Adds the security headers to every HTTP response that does not set them itself
    (the 500 handler, which answers from outside every middleware, adds its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        extra = _STATIC_BYTES if scope["path"].startswith("/static/") else _PAGE_BYTES

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class RefuseNul:
    """Refuse an address holding a NUL (%00) before any route sees it: PostgreSQL's text
    cannot hold one, so looking up `/drills/a%00b/console` or `/ws/drills/a%00b` failed
    inside the database driver (a 500, or a dropped socket) instead of "no such drill"."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and (
            "\x00" in scope["path"] or b"%00" in scope["query_string"]
        ):
            if scope["type"] == "websocket":
                # Accepted, then closed at once with 1008: a close before the handshake
                # reaches the client as a bare HTTP 403, which says nothing of why.
                await receive()  # websocket.connect
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": 1008, "reason": "NUL in URL"})
                return
            where = "path" if "\x00" in scope["path"] else "query"
            # The shape of FastAPI's own 422, as the OpenAPI document declares it.
            message = "the address holds a NUL character (%00): remove it"
            detail = [{"loc": [where], "msg": message, "type": "value_error"}]
            response = JSONResponse({"detail": detail}, 422)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class CapBody:
    """Refuse a request body over `max_bytes` with 413 before any route reads it: an
    unauthenticated 30 MiB upload was read in full before its 403. A declared length over
    the cap is refused at once, unread; a body without one (chunked) is read up to the cap
    here, then handed on, or refused once it passes the cap."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body at all
            return
        chunks: list[Message] = []
        size = 0
        while True:
            message = await receive()
            chunks.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        mib = self.max_bytes / (1024 * 1024)
        detail = (
            f"the request is larger than this server accepts ({mib:g} MiB); send less, or "
            "raise TABLETOP_MAX_BODY_MIB on the server"
        )
        response = JSONResponse({"detail": detail}, 413, headers={"Connection": "close"})
        await response(scope, receive, send)
