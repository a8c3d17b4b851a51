"""Model artifacts on disk: written atomically, verified by SHA-256 before loading.

A joblib file is executable code on load, so ``read_artifact`` refuses any file whose
hash does not match the one recorded in the registry row.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib

from core.errors import ArtifactRejected

TRACKED_LIBRARIES = ("numpy", "pandas", "scipy", "statsmodels", "statsforecast", "pmdarima")


def library_versions() -> dict[str, str]:
    """Versions of the libraries a saved model depends on (a copy: callers may mutate)."""
    return dict(_library_versions())


@functools.cache
def _library_versions() -> dict[str, str]:
    # Read once per process: the metadata lookups cost ~20 ms, paid at every save (a
    # replay registers a model every week it replays), and installed versions do not
    # change under a running process.
    versions = {}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def version_mismatches(recorded: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Libraries whose running version differs from the recorded one: name -> (saved, running)."""
    running = library_versions()
    return {
        name: (saved, running.get(name, "absent"))
        for name, saved in recorded.items()
        if running.get(name, "absent") != saved
    }


def write_artifact(path: Path, payload: Any) -> tuple[str, int]:
    """Write ``payload`` with joblib to ``path`` atomically; return (sha256, size in bytes).

    The bytes go to a temporary file in the same directory, are fsynced, then renamed over
    the final name, so a crash leaves either no file or a complete one, never a torn one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    joblib.dump(payload, buffer, compress=3)
    data = buffer.getvalue()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return hashlib.sha256(data).hexdigest(), len(data)


def read_artifact(path: Path, expected_sha256: str) -> Any:
    """Load an artifact after checking its SHA-256; refuse a missing or altered file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactRejected(f"model artifact {path} is missing; retrain the model") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ArtifactRejected(
            f"model artifact {path.name} does not match its registry hash "
            f"(expected {expected_sha256[:12]}…, found {actual[:12]}…); it was altered or "
            "corrupted and will not be loaded — retrain the model"
        )
    return joblib.load(io.BytesIO(data))
