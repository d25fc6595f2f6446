"""The OpenAPI document shows an example answer for every route (issue 6: "OpenAPI
complete, with examples for every route")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from custintel.api import create_app
from custintel.config import Settings


def _has_example(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> bool:
    if not schema or depth > 6:
        return False
    if "example" in schema or "examples" in schema:
        return True
    if "$ref" in schema:
        return _has_example(
            components.get(schema["$ref"].split("/")[-1], {}), components, depth + 1
        )
    parts = [schema.get("items", {})]
    parts += [*schema.get("anyOf", []), *schema.get("oneOf", []), *schema.get("allOf", [])]
    parts += list(schema.get("properties", {}).values())
    return any(_has_example(p, components, depth + 1) for p in parts)


def test_every_route_documents_an_example_answer(home: Path) -> None:
    app = create_app(Settings(home=home))
    spec = app.openapi()
    components = spec["components"]["schemas"]
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            media = [
                m
                for code, answer in operation.get("responses", {}).items()
                if code.startswith("2")
                for m in answer.get("content", {}).values()
            ]
            if not any(
                "example" in m or "examples" in m or _has_example(m.get("schema", {}), components)
                for m in media
            ):
                missing.append(f"{method.upper()} {path}")
    assert missing == []
    app.state.custintel.db.dispose()


def test_routes_that_need_a_key_declare_the_bearer_scheme(home: Path) -> None:
    app = create_app(Settings(home=home))
    spec = app.openapi()
    scheme = spec["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    open_routes = {"/healthz", "/readyz", "/metrics"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            declared = operation.get("security")
            if path in open_routes:
                assert declared is None, f"{method.upper()} {path} needs no key"
            else:
                assert declared == [{"apiKey": []}], f"{method.upper()} {path}: {declared}"
