"""Storage: everything ribao knows, in one SQLite file (db), its versioned schema (schema), and
the files it keeps beside it under safe names (safefs, hashing) with their thumbnails (thumbs).
SQL lives here only (tests/test_layers.py): db's Store methods for messages, reads for reports
and the desk, outbox_rows, purge_rows, accounts (the desk's logins)."""
