"""Database access: engine, sessions, ORM models and migrations."""
