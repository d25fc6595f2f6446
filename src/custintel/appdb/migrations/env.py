"""Alembic's environment for the app database.

``AppDB.migrate`` passes an open connection in ``config.attributes["connection"]``;
for ``alembic revision --autogenerate`` during development, ``sqlalchemy.url`` names a
scratch database.
"""

from alembic import context
from sqlalchemy import create_engine

from custintel.appdb.schema import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
