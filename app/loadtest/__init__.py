"""Drives a real server from outside: bots over websockets and `tabletop bench`."""
