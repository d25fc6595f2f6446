"""Whether the real servers and the shared data are there: tests skip with the reason
when not, and fail instead when CUSTINTEL_REQUIRE_SERVICES=1 (as in CI). A module of
its own (not conftest) so that test files in every folder can import it by one name."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REQUIRE_SERVICES = os.environ.get("CUSTINTEL_REQUIRE_SERVICES") == "1"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
POSTGRES_ADMIN_URL = os.environ.get(
    "CUSTINTEL_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MARIADB_ADMIN_URL = os.environ.get(
    "CUSTINTEL_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test"
)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    """Skip (or fail, when services are required) if ``host:port`` does not answer."""
    if _port_open(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and CUSTINTEL_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(f"{message} (start it, or see scripts/ensure-services.sh)")


def need_shared_data(relative: str) -> Path:
    """The path of a file in ../shared/data, skipping when the folder is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data {relative} not found at {path}")
    return path
