"""Application services: the only layer that commits."""
