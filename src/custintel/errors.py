"""The one exception hierarchy of custintel.

Every error a user can cause or meet derives from :class:`CustintelError`. Each carries
a message that names the file or table, the column and the rows involved, a ``hint``
that says what to do, a CLI exit code (from sysexits.h) and an HTTP status, so that the
CLI and the HTTP API map errors in one place each.

::

    CustintelError
     ├── ConfigError               bad custintel.toml, settings or CLI option values
     ├── InputError                the user's data cannot be used as given
     │    ├── SourceNotFound       a file, sheet or table that does not exist
     │    ├── SourceUnreadable     a corrupt file, an unsupported format or encoding
     │    ├── EmptySource          a file or table without data rows
     │    ├── MissingColumns       mandatory columns absent (closest names suggested)
     │    └── RowsRejected         every row (or more than allowed) failed validation
     ├── SourceConnectionError     a database that refuses or drops the connection
     ├── NotEnoughData             the data cannot support the requested capability
     └── StoreError                the analytical store cannot be opened or written

Lower-level errors (DuckDB, SQLAlchemy, file parsers) are translated into these where
they are raised; ``tests/test_errors.py`` proves the mapping.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = [
    "ConfigError",
    "CustintelError",
    "EmptySource",
    "InputError",
    "MissingColumns",
    "NotEnoughData",
    "RowsRejected",
    "SourceConnectionError",
    "SourceNotFound",
    "SourceUnreadable",
    "StoreError",
    "closest_names",
]


class CustintelError(Exception):
    """Base of every error custintel raises on purpose.

    ``where`` names the file, table or setting; ``hint`` says what the user can do.
    """

    exit_code: int = 1
    http_status: int = 500
    title: str = "custintel error"

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        parts = [f"{self.where}: {self.message}" if self.where else self.message]
        if self.hint:
            parts.append(f"Fix: {self.hint}")
        return "\n".join(parts)


class ConfigError(CustintelError):
    """A setting, mapping file or option value is invalid."""

    exit_code = 78  # EX_CONFIG
    http_status = 422
    title = "Invalid configuration"


class InputError(CustintelError):
    """The user's data cannot be used as given."""

    exit_code = 65  # EX_DATAERR
    http_status = 422
    title = "Invalid input data"


class SourceNotFound(InputError):
    """A file, sheet or table that does not exist."""

    exit_code = 66  # EX_NOINPUT
    http_status = 404
    title = "Source not found"


class SourceUnreadable(InputError):
    """A file that cannot be parsed: corrupt, unsupported format or encoding."""

    title = "Source unreadable"


class EmptySource(InputError):
    """A file or table that holds no data rows."""

    title = "Source is empty"


class MissingColumns(InputError):
    """Mandatory columns are absent; the message suggests the closest names present."""

    title = "Missing columns"

    def __init__(
        self,
        missing: Sequence[str],
        available: Sequence[str],
        *,
        where: str | None = None,
        hint: str | None = None,
        taken: Iterable[str] = (),
    ):
        self.missing = list(missing)
        self.available = list(available)
        # Columns already read as another canonical column are no suggestion: order_id
        # is not the order date.
        taken = set(taken)
        free = [c for c in self.available if c not in taken]
        suggestions = []
        for name in self.missing:
            close = closest_names(name, free)
            if close:
                suggestions.append(f"{name!r} (closest: {', '.join(map(repr, close))})")
            else:
                suggestions.append(repr(name))
        message = (
            f"missing required column(s) {', '.join(suggestions)}; "
            f"the columns present are {', '.join(map(repr, self.available)) or 'none'}"
        )
        super().__init__(
            message,
            where=where,
            hint=hint
            or "rename the columns, or map them in custintel.toml "
            '([tables.<name>.columns] canonical = "your_column"), or pass --mapping FILE',
        )


class RowsRejected(InputError):
    """Every row, or more rows than allowed, failed validation; nothing was loaded."""

    title = "Rows rejected"


class SourceConnectionError(CustintelError):
    """A database refused or dropped the connection."""

    exit_code = 69  # EX_UNAVAILABLE
    http_status = 503
    title = "Source database unavailable"


class NotEnoughData(CustintelError):
    """The data cannot support the requested capability (too short, too few customers)."""

    exit_code = 65
    http_status = 422
    title = "Not enough data"


class StoreError(CustintelError):
    """The analytical store (DuckDB file) cannot be opened, read or written."""

    exit_code = 74  # EX_IOERR
    http_status = 503
    title = "Store unavailable"


def closest_names(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` candidate names close to ``name`` (case-insensitive)."""
    by_lower = {c.lower(): c for c in candidates}
    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.5)
    return [by_lower[m] for m in matches]
