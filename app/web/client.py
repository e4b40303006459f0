"""What the browser's modules take from the server instead of keeping copies of it.

The drill pages render `client_constants()` (a Jinja global) as a JSON block,
`<script type="application/json" id="tabletop-client">`, which static/js/socket.js reads.
"""

from __future__ import annotations

from typing import Any

from app.realtime.codes import Close


def client_constants() -> dict[str, Any]:
    """The websocket close codes by name (app/realtime/codes.py)."""
    return {"close": {code.name: int(code) for code in Close}}
