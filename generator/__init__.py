"""Publishes the LAION2B benchmark datasets: site generator, pipeline, download and verify tools."""
