"""The work: joining inputs into pages, pipeline stages, verification, downloads."""
