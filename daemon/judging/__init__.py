"""Judging: one message in, one verdict out.

parse (MIME → text and files on disk) → kind (auto-reply? unrelated?) → identify the school
(roster, authres) → inspect each file (inspect/) → which deliverable and day (dates) → message
checks (checks/). `isolate` runs all of it in a child with time and memory limits.
"""
