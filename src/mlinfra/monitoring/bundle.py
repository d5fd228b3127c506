"""The monitor job's code as SageMaker runs it: one reproducible zip application.

`job_archive()` packs the modules `processing` and `quality_job` need (and nothing that
imports PyYAML, Pulumi, Jinja or rich) under `mlinfra/monitoring/`, with a `__main__.py` that
runs `processing.main` (or `quality_job.main` for `quality ...`), so the scikit-learn image
runs it as `python3 monitor-job.pyz ...` with nothing of mlinfra installed. The archive is
the same bytes for the same sources: entries in a fixed order, with fixed times and modes,
stored uncompressed (compressed bytes would depend on the zlib build). Its hash names the S3
key it is uploaded under, as pipeline scripts are.
"""

from __future__ import annotations

import functools
import hashlib
import io
import zipfile
from pathlib import Path

import mlinfra

ARCHIVE_NAME = "monitor-job.pyz"
# The modules of this package the job imports; a test runs the archive with an import guard.
MODULES = (
    "__init__.py",
    "analysis.py",
    "baseline.py",
    "capture.py",
    "files.py",
    "metrics.py",
    "processing.py",
    "quality.py",
    "quality_job.py",
    "quality_metrics.py",
    "rollback.py",
    "storage.py",
)
_MAIN = '''"""mlinfra's monitor job: one run of a monitor (mlinfra/monitoring/processing.py), or of
a model-quality monitor (`quality ...`: mlinfra/monitoring/quality_job.py)."""

import sys

if sys.argv[1:2] == ["quality"]:
    from mlinfra.monitoring.quality_job import main

    sys.exit(main(sys.argv[2:]))

from mlinfra.monitoring.processing import main

sys.exit(main())
'''
_PACKAGE = '''"""mlinfra as its monitor job carries it: the monitoring modules, nothing else."""

__version__ = {version!r}
'''
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold


def _entries() -> list[tuple[str, bytes]]:
    package = Path(__file__).resolve().parent
    entries = [
        ("__main__.py", _MAIN.encode()),
        ("mlinfra/__init__.py", _PACKAGE.format(version=mlinfra.__version__).encode()),
    ]
    entries += [(f"mlinfra/monitoring/{name}", (package / name).read_bytes()) for name in MODULES]
    return sorted(entries)


@functools.cache
def job_archive() -> bytes:
    """The archive's bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in _entries():
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.create_system = 3  # Unix, whatever system packs it
            archive.writestr(entry, data)
    return buffer.getvalue()


def job_archive_sha256() -> str:
    return hashlib.sha256(job_archive()).hexdigest()
