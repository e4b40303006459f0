"""The join link a facilitator shows the room, and whether a phone can open it.

The link uses TABLETOP_PUBLIC_URL when set (the address participants' devices use), else
the address this page was requested at. A loopback address (127.0.0.1, localhost, ::1)
works only on the facilitator's own computer, and the console says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import socket
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

_SIOCGIFADDR = 0x8915
"""Linux ioctl: an interface's IPv4 address (read locally; nothing is sent)."""


@dataclass(frozen=True, slots=True)
class JoinLink:
    url: str
    loopback: bool
    """Only this computer can open it: phones in the room cannot."""


def is_loopback_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    return False


def join_link(public_url: str, requested_base: str, code: str) -> JoinLink:
    base = (public_url or requested_base).rstrip("/")
    host = urlsplit(base).hostname or ""
    # After "#": the browser never sends it, so the code reaches no access log or proxy
    # (the page's script posts it). `/join?code=` still works for links already printed.
    return JoinLink(f"{base}/join#code={code}", is_loopback_host(host))


def _interface_addresses() -> set[str]:
    found: set[str] = set()
    with (
        contextlib.suppress(OSError, AttributeError),
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe,
    ):
        for _, name in socket.if_nameindex():
            packed = struct.pack("256s", name.encode()[:15])
            with contextlib.suppress(OSError):
                answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, packed)
                found.add(socket.inet_ntoa(answer[20:24]))
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(str(info[4][0]))
    return found


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses that another device on its network could reach."""
    usable = []
    for address in _interface_addresses():
        ip = ipaddress.ip_address(address)
        if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
            usable.append(address)
    return sorted(usable, key=ipaddress.ip_address)
