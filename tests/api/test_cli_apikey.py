"""`python -m core apikey create|list|revoke`: the key is printed once; only its hash is kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core import apikeys
from core.cli import main
from core.db.engine import Database
from core.db.models import ApiKey


def test_create_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))

    assert main(["apikey", "create", "--name", "partner", "--rate-limit", "7"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("sk_") and len(key) > 40
    prefix = apikeys.prefix_of(key)

    db = Database.connect(url)
    with db.read() as session:
        row = session.scalars(select(ApiKey)).one()
    assert (row.name, row.prefix, row.rate_limit_per_minute) == ("partner", prefix, 7)
    assert row.key_hash == apikeys.hash_key(key) and key not in row.key_hash
    assert apikeys.authenticate(db, key) is not None

    assert main(["apikey", "list"]) == 0
    listing = capsys.readouterr().out
    assert prefix in listing and key not in listing and "active" in listing

    assert main(["apikey", "revoke", "--prefix", prefix]) == 0
    capsys.readouterr()
    assert apikeys.authenticate(db, key) is None
    assert main(["apikey", "list"]) == 0
    assert "revoked" in capsys.readouterr().out

    assert main(["apikey", "revoke", "--prefix", "sk_nothere"]) == 2
    assert "no API key with prefix" in capsys.readouterr().err
    assert main(["apikey", "create", "--name", "x", "--rate-limit", "0"]) == 2
    db.dispose()
