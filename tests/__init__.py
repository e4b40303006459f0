"""Tabletop's tests. Imported before any test module, so it sets what the whole suite
runs with before the app is imported."""

import os

# argon2 at its cheapest (app/services/security.py): the suite signs in hundreds of times,
# in-process and in the servers it starts (which inherit the environment).
# tests/security/test_secrets.py checks that a server started without it hashes at full cost.
os.environ["TABLETOP_INSECURE_FAST_PASSWORD_HASHES"] = "1"
