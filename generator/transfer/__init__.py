"""The participants' tools (docs/design/index.md#participant-tools): verify files against the md5 manifest,
download bundles with
resume and checks."""
