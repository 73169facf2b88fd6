"""The database floor: tables, engines and sessions, many-row writes, Alembic migrations."""
