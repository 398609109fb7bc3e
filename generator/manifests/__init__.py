"""The manifests (docs/design/releases.md#manifests): their model, reader and writer, shared by the site, the
pipeline and the
participants' tools."""
