"""Channels: what carries a rendered message to a subscriber (outbox files, LINE, SMTP)."""
