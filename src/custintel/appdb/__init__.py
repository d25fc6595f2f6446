"""The app database: state that must survive a restart (principle 4 of DESIGN.md).

API keys, jobs, model versions and which one is active, and the published results of
each version (segment assignments, customer predictions, forecasts) that the HTTP API
serves. SQLAlchemy with Alembic migrations; SQLite in the data directory by default,
PostgreSQL for production (``CUSTINTEL_DATABASE_URL``). The analytical DuckDB store is
for the data work; the API never opens it while serving, so a training job holding the
store does not block a request.
"""

from custintel.appdb.db import AppDB, database_url

__all__ = ["AppDB", "database_url"]
