"""The bench cases' own behaviour: what they generate and store, not how fast it goes."""
