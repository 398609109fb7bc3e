"""The release definition (SPEC §8) and the files every product shares about it: the page's
wording and the projection recall table."""
