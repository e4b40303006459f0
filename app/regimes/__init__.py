"""Notification regimes as data: who must be told, by when, from which event, with what.

`model` is the format (pydantic, with its own JSON Schema), `library` loads the regimes
shipped in `data/`, `clocks` computes each duty's deadline and state from what happened
(pure: time is an argument), and `reference` renders the README's table. Drill material,
not legal advice."""
