"""Providers: what creates, reads, updates and deletes resources of a target."""
