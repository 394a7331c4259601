"""Ingestion, storage, rollups, retention and live publishing; ``events.query`` is the read path."""
