"""The participants' tools (SPEC §7): verify files against the md5 manifest, download bundles with
resume and checks."""
