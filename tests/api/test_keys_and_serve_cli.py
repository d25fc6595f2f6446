"""`custintel keys create|list|revoke` and `custintel serve`, as a user runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api_helpers import bearer
from custintel.api import create_app
from custintel.api.security import RedactTokens
from custintel.cli import app
from custintel.config import Settings

runner = CliRunner()


def _create(scope: str, *extra: str) -> str:
    result = runner.invoke(app, ["keys", "create", "--scope", scope, *extra])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_created_key_is_the_last_line_and_works(home: Path) -> None:
    key = _create("read", "--name", "shop frontend")
    assert key.startswith("ci_") and len(key) == 46
    with TestClient(create_app(Settings(home=home))) as client:
        assert client.get("/v1/models", headers=bearer(key)).status_code == 200


def test_list_shows_prefix_name_scope_not_the_key(home: Path) -> None:
    key = _create("admin", "--name", "ops")
    result = runner.invoke(app, ["keys", "list"])
    assert result.exit_code == 0, result.output
    assert key[:11] in result.output and key not in result.output
    assert "ops" in result.output and "admin" in result.output


def test_revoke_makes_the_key_fail_auth(home: Path) -> None:
    key = _create("read")
    result = runner.invoke(app, ["keys", "revoke", key[:11]])
    assert result.exit_code == 0, result.output
    assert key[:11] in result.output and key not in result.output
    with TestClient(create_app(Settings(home=home))) as client:
        assert client.get("/v1/models", headers=bearer(key)).status_code == 401
    listed = runner.invoke(app, ["keys", "list"]).output
    assert listed.count(key[:11]) == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["keys", "create", "--scope", "root"], 78, "unknown scope 'root'"),
        (["keys", "revoke", "ci_nothing1"], 78, "no API key with prefix"),
    ],
    ids=["bad-scope", "unknown-prefix"],
)
def test_key_errors_are_messages_with_exit_codes(
    home: Path, args: list[str], code: int, message: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code and message in result.output
    assert "Traceback" not in result.output


def test_serve_prints_the_base_url_and_runs_uvicorn(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    calls: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda api, **kw: calls.update(api=api, **kw))
    result = runner.invoke(app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "http://localhost:8123" in result.output
    assert calls["host"] == "127.0.0.1" and calls["port"] == 8123
    with TestClient(calls["api"]) as client:  # served with the middleware installed
        client.get("/healthz")
        assert "custintel_http_request_duration_seconds" in client.get("/metrics").text


def test_access_log_lines_never_show_a_token() -> None:
    import logging

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/?token=ci_secret&x=1", "1.1", 200),
        None,
    )
    RedactTokens().filter(record)
    assert "ci_secret" not in record.getMessage() and "token=***&x=1" in record.getMessage()
