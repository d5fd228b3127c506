"""Engines: what carries out a plan, per target."""
