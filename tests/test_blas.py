"""The BLAS report names the loaded kernel and warns about slow generic ones."""
from __future__ import annotations

import logging

import numpy as np

from generator.pipeline.blas import blas_libraries, blas_report


def test_reports_the_blas_numpy_loaded():
    np.ones((4, 4)) @ np.ones((4, 4))
    libraries = blas_libraries()
    assert libraries, "numpy ships with a BLAS that threadpoolctl sees"
    report = blas_report()
    assert report.count("\n") + 1 == len(libraries)
    assert "thread(s)" in report and str(libraries[0]["num_threads"]) in report


def test_warns_about_a_generic_kernel(caplog):
    generic = {"user_api": "blas", "internal_api": "openblas", "version": "0.3.21",
               "architecture": "Prescott", "num_threads": 2, "threading_layer": "pthreads",
               "filepath": "/lib/libopenblas.so"}
    fast = dict(generic, architecture="Haswell")
    with caplog.at_level(logging.WARNING, logger="generator.pipeline.blas"):
        report = blas_report([generic, fast])
    assert "kernel Prescott" in report and "kernel Haswell" in report
    assert len(caplog.records) == 1
    assert "generic kernel Prescott" in caplog.records[0].getMessage()
    assert "libopenblas.so" in caplog.records[0].getMessage()


def test_warns_when_no_blas_is_visible(caplog):
    with caplog.at_level(logging.WARNING, logger="generator.pipeline.blas"):
        assert "none found" in blas_report([])
    assert "no BLAS library" in caplog.records[0].getMessage()
