"""The release definition (docs/design/releases.md#release-definition) and the files every product shares about it:
the page's
wording and the projection recall table."""
