"""`tabletop bench`: load cases against real servers, with figures."""
