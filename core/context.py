"""The objects a front door needs: settings and the process's one Database."""

from __future__ import annotations

from dataclasses import dataclass

from core.db.engine import Database
from core.db.migrate import upgrade
from core.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    db: Database


def open_context(settings: Settings | None = None, *, migrate: bool = True) -> AppContext:
    """Connect to the configured database and, by default, bring its schema up to date."""
    settings = settings or Settings.from_env()
    db = Database.connect(settings.database_url)
    if migrate:
        upgrade(db)
    return AppContext(settings=settings, db=db)
