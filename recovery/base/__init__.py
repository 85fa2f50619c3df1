"""The bottom layer: what every other layer may use (errors, project configuration).

It imports nothing else from ``recovery``."""
