"""The ``custintel`` command line (Typer). Thin: options in, one service call, output.

Errors of custintel's own hierarchy are printed as a short message (what, where, the
fix) and exit with the error's code; ``--debug`` shows the traceback instead.
"""

from custintel.cli import (
    data_commands,
    demo_commands,
    forecast_commands,
    keys_commands,
    segment_commands,
    serve_commands,
    value_commands,
)
from custintel.cli import worker_commands as worker_commands
from custintel.cli.common import app

__all__ = [
    "app",
    "data_commands",
    "demo_commands",
    "forecast_commands",
    "keys_commands",
    "segment_commands",
    "serve_commands",
    "value_commands",
]
