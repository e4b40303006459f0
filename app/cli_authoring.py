"""Scenario authors' commands, registered on the `tabletop` command (see app/cli.py)."""

from __future__ import annotations
