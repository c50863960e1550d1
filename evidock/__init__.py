"""Composition root: settings, CLI, service runner."""
