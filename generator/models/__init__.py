"""Parsed, validated records: what the readers produce and the work modules consume."""
