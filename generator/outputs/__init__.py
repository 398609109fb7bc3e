"""Writers of everything the project produces: pages, artifacts, manifests."""
