"""Shared plumbing every product uses: text and YAML inputs, HDF5, checksums, crash-safe writes."""
