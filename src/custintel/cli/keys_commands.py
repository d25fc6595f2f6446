"""``custintel keys create|list|revoke``: API keys for the HTTP API.

``create`` prints the key once, as the last line of its output (scripts take
``tail -n 1``); only its hash is stored. ``list`` shows prefixes, never keys.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from custintel.appdb import AppDB
from custintel.appdb.keys import SCOPES, create_key, list_keys, revoke_key
from custintel.cli.common import app, console, handles_errors, out_console, settings

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _db() -> AppDB:
    db = AppDB.from_settings(settings())
    db.migrate()
    return db


@keys_app.command("create")
@handles_errors
def create(
    scope: Annotated[
        str, typer.Option("--scope", help=f"What the key may do: {' < '.join(SCOPES)}.")
    ] = "read",
    name: Annotated[str, typer.Option("--name", help="A note: who or what uses it.")] = "",
) -> None:
    """Create a key and print it (shown once: store it now) as the last line."""
    db = _db()
    try:
        with db.session() as session:
            key, info = create_key(session, scope, name=name)
    finally:
        db.dispose()
    console.print(
        f"created {info.scope} key {info.prefix}"
        + (f" ({info.name})" if info.name else "")
        + "; it is shown once, store it now. Send it as `Authorization: Bearer <key>`.",
        highlight=False,
    )
    print(key)


@keys_app.command("list")
@handles_errors
def list_command() -> None:
    """Every key, revoked ones included, by prefix (the keys themselves are not kept)."""
    db = _db()
    try:
        with db.session() as session:
            infos = list_keys(session)
    finally:
        db.dispose()
    table = Table(title="API keys", title_justify="left")
    for column in ("prefix", "name", "scope", "created", "revoked"):
        table.add_column(column)
    for info in infos:
        table.add_row(
            info.prefix,
            info.name,
            info.scope,
            f"{info.created_at:%Y-%m-%d %H:%M}",
            f"{info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "",
        )
    out_console.print(table)


@keys_app.command("revoke")
@handles_errors
def revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix, as `keys list` shows it.")],
) -> None:
    """Revoke a key: it fails authentication from the next request on."""
    db = _db()
    try:
        with db.session() as session:
            info = revoke_key(session, prefix)
    finally:
        db.dispose()
    out_console.print(f"revoked {info.scope} key {info.prefix}", highlight=False)
