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
}
_HEADER_BYTES = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in _HEADER_BYTES if k not in present]
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
