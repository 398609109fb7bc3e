"""The manifests (SPEC §3): their model, reader and writer, shared by the site, the pipeline and the
participants' tools."""
