"""Storage: everything ribao knows, in one SQLite file (db), its versioned schema (schema), and
the files it keeps beside it under safe names (safefs, hashing). SQL lives here only."""
