"""The `tabletop` command: `main` builds it from one module per group."""
