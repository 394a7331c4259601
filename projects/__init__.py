"""Projects, members and roles, ingest keys, personal API tokens and per-project settings."""
