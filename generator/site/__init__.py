"""The datasets page (SPEC §4): read the manifests, the release, its wording, the recall table and
the produced artifacts; join them into the page's rows; render the page and the recall plot."""
