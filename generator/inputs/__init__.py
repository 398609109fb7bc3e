"""Readers of the files maintainers edit or produce: manifests, catalog, recall table, parts."""
