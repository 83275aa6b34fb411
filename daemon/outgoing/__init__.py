"""Outgoing mail: decide and render a reply (replies), build and send safe MIME (mailout), and
deliver the outbox at most once (outbox)."""
