"""Measured recovery: metrics from the journal, the text/JSON/HTML report and the
chaos drill."""
