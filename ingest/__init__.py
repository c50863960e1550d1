"""From a docked file to a verified, locked, logged recording: watcher, probe, checks, pipeline."""
