from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core.errors import ArtifactRejected
from core.forecast import artifacts
from core.forecast.artifacts import read_artifact, version_mismatches, write_artifact


def test_round_trip_and_hash(tmp_path: Path) -> None:
    payload = {"order": (1, 1, 1), "y": np.arange(5.0)}
    sha, size = write_artifact(tmp_path / "m.joblib", payload)
    assert size == (tmp_path / "m.joblib").stat().st_size
    loaded = read_artifact(tmp_path / "m.joblib", sha)
    assert loaded["order"] == (1, 1, 1)
    np.testing.assert_array_equal(loaded["y"], payload["y"])


def test_tampered_artifact_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.joblib"
    sha, _ = write_artifact(path, {"a": 1})
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(ArtifactRejected, match="does not match its registry hash"):
        read_artifact(path, sha)


def test_missing_artifact_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactRejected, match="missing"):
        read_artifact(tmp_path / "nope.joblib", "0" * 64)


def test_crash_between_write_and_rename_leaves_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.joblib"
    sha_old, _ = write_artifact(path, {"version": 1})

    def crash(src: str, dst: str) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        write_artifact(path, {"version": 2})
    monkeypatch.undo()
    assert read_artifact(path, sha_old) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.joblib"]  # no temp file left behind


def test_version_mismatch_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "library_versions", lambda: {"numpy": "2.4.6"})
    assert version_mismatches({"numpy": "1.26.0"}) == {"numpy": ("1.26.0", "2.4.6")}
    assert version_mismatches({"numpy": "2.4.6"}) == {}
