"""The datasets page (docs/design/index.md#the-datasets-page): read the manifests, the release, its wording, the
recall table and
the produced artifacts; join them into the page's rows; render the page and the recall plot."""
