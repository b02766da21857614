"""Retrievers of the registered methods (named by their registry entries, imported on first use)."""
