"""Cross-site scripting, tried in real Chromium: a participant's name, their messages and an
inject's Markdown carry script tags, event handlers and javascript: links. On the
facilitator's console and the other participant's page they render as text or sanitised
HTML: no script runs (no dialog, no marker set), no request leaves for another address, and
the pages are served with a Content Security Policy that forbids inline script."""

from __future__ import annotations

from playwright.sync_api import Browser, Dialog, Page, Request, expect

from tests.browser import join_page, sign_in_page
from tests.e2e.test_drill_in_the_browser import Problems, _context
from tests.live import LiveServer, join, sign_in
from tests.ws.test_protocol import command, open_socket, receive

EVIL_HOST = "http://evil.invalid"
PAYLOADS = [
    "<script>window.__xss = 'script'</script>",
    "<img src=x onerror=\"window.__xss = 'onerror'\">",
    f'<img src="{EVIL_HOST}/pixel.png">',
    "<svg onload=\"window.__xss = 'svg'\"></svg>",
    "[click me](javascript:window.__xss='link')",
    "<a href=\"javascript:window.__xss='anchor'\">anchor</a>",
    "<iframe src=\"javascript:parent.__xss='iframe'\"></iframe>",
]
HOSTILE = "\n\n".join(PAYLOADS)


def _guard(page: Page, live: LiveServer, who: str, strays: list[str], dialogs: list[str]) -> Page:
    def on_request(request: Request) -> None:
        if not request.url.startswith((live.url, "data:")):
            strays.append(f"{who}: {request.url}")

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(f"{who}: {dialog.message}")
        dialog.dismiss()

    page.on("request", on_request)
    page.on("dialog", on_dialog)
    return page


# Every element a payload could have smuggled in, found in the live DOM: a script that is
# not the page's own, a frame or plugin, an event-handler attribute anywhere, an image from
# another address. Text content is not enough: an injected <script>'s source is text too.
# The Content Security Policy would stop such a script from running; this finds it even so.
SMUGGLED = """() => {
  const found = [];
  const own = (s) => s.src.startsWith(location.origin + "/static/")
    || (s.type === "application/json" && !s.src);
  for (const s of document.querySelectorAll("script")) if (!own(s)) found.push(s.outerHTML);
  for (const e of document.querySelectorAll("iframe, frame, object, embed")) {
    found.push(e.outerHTML);
  }
  for (const e of document.querySelectorAll("*")) {
    const handlers = [...e.attributes].filter((a) => a.name.toLowerCase().startsWith("on"));
    if (handlers.length) found.push(e.outerHTML);
  }
  for (const i of document.querySelectorAll("img")) {
    if (!i.src.startsWith(location.origin) && !i.src.startsWith("data:")) found.push(i.outerHTML);
  }
  return found.map((html) => html.slice(0, 120));
}"""


def _no_script_ran(page: Page) -> None:
    smuggled = page.evaluate(SMUGGLED)
    assert smuggled == [], smuggled
    assert page.evaluate("() => window.__xss === undefined")
    for link in page.locator("a[href^='javascript:' i]").all():
        raise AssertionError(f"a javascript: link survived: {link.evaluate('a => a.outerHTML')}")


def test_hostile_names_messages_and_markdown_stay_inert(
    browser: Browser, live_server: LiveServer
) -> None:
    facilitator = sign_in(live_server)
    created = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "XSS"})
    drill_id, code = created.json()["id"], created.json()["join_code"]
    page_response = facilitator.get(f"/drills/{drill_id}/console")
    policy = page_response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy

    strays: list[str] = []
    dialogs: list[str] = []
    problems = Problems()
    fac = _guard(_context(browser).new_page(), live_server, "facilitator", strays, dialogs)
    problems.watch(fac, "facilitator")
    sign_in_page(fac, live_server)
    fac.goto(f"{live_server.url}/drills/{drill_id}/console")
    expect(fac.locator("#conn")).to_have_text("Live")
    legal = _guard(_context(browser).new_page(), live_server, "legal", strays, dialogs)
    problems.watch(legal, "legal")
    join_page(legal, live_server, code, "Lee Legal", "Legal counsel")

    # A participant with a hostile name sends hostile messages; the facilitator sends an
    # inject whose Markdown is hostile. Over the real websocket, as any client could.
    evil = join(live_server, code, PAYLOADS[1], "incident_manager")
    fac_socket = open_socket(live_server, drill_id, facilitator)
    assert receive(fac_socket)["type"] == "snapshot"
    assert command(fac_socket, type="start", id="start")["type"] == "ack"
    inject = command(
        fac_socket,
        type="manual_inject",
        id="inject",
        title=PAYLOADS[0],
        body=HOSTILE,
        to=["all"],
        channel="email",
        severity="high",
    )
    assert inject["type"] == "ack", inject
    evil_socket = open_socket(live_server, drill_id, evil)
    assert receive(evil_socket)["type"] == "snapshot"
    for n, payload in enumerate(PAYLOADS):
        sent = command(
            evil_socket,
            type="send_message",
            id=f"m{n}",
            to=["legal"],
            subject=payload,
            body=payload,
        )
        assert sent["type"] == "ack", sent

    # Both pages show the hostile text as text...
    expect(legal.locator("body")).to_contain_text("window.__xss = 'script'")
    expect(fac.locator("body")).to_contain_text("<img src=x onerror=")
    # ...after a reload too (the snapshot path, not only the live one).
    legal.reload()
    expect(legal.locator("#conn")).to_have_text("Live")
    fac.reload()
    expect(fac.locator("#conn")).to_have_text("Live")
    legal.wait_for_timeout(500)
    for page in (fac, legal):
        _no_script_ran(page)
    assert dialogs == []
    assert strays == [], strays
    assert problems.seen == [], problems.seen  # CSP refusals would show here
