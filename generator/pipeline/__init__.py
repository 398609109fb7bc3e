"""The build pipeline (docs/design/pipeline.md): from the LAION parts to every bundle of a release.

Reading (parts, the official BinWalk model), the numeric kernels (subsets, queries, PCA,
sketches, gold standards, recall, metadata, the synthetic sample) and the stages that
stream blocks of rows through them and write each output file.
"""
