"""Scenario authoring: the YAML loader, the format reference, Markdown and the branch graph."""
