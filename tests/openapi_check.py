"""Checks live HTTP responses against the service's own /openapi.json (jsonschema, draft 2020-12)."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:qa:openapi"


class OpenAPIChecker:
    def __init__(self, spec: dict) -> None:
        validate_spec(spec)  # the document itself is valid OpenAPI 3.1
        self.spec = spec
        self.registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))
        self.prefix = spec["servers"][0]["url"].rstrip("/")
        self.routes = [
            (re.compile("^" + re.escape(self.prefix) + re.sub(r"\{[^}]+\}", "[^?]+", path) + "$"), path) for path in spec["paths"]
        ]

    def schema_for(self, path: str, method: str, status: int) -> str:
        """A JSON pointer to the documented body schema of this response (an error for unknown routes)."""
        documented = next((template for pattern, template in self.routes if pattern.match(path)), None)
        operation = self.spec["paths"].get(documented, {}).get(method.lower()) if documented else None
        if operation is None:
            assert status in (404, 405), f"{method} {path} answered {status} but is not in the OpenAPI document"
            return "#/components/schemas/Error"
        assert str(status) in operation["responses"], f"{method} {path}: status {status} is not documented"
        response = operation["responses"][str(status)]
        pointer = f"#/paths/{escape(documented)}/{method.lower()}/responses/{status}"
        if "$ref" in response:
            pointer = response["$ref"]
        return pointer + "/content/application~1json/schema"

    def check(self, path: str, method: str, status: int, body: object) -> None:
        pointer = self.schema_for(path, method, status)
        validator = Draft202012Validator({"$ref": SPEC_URI + pointer}, registry=self.registry)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        assert not errors, f"{method} {path} {status}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:3])


def escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


class CheckingClient(FlaskClient):
    """A Flask test client that checks every JSON response against the app's own OpenAPI document."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.checker: OpenAPIChecker | None = None
        self.checked = 0
        self.spec_path = "/openapi.json"

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        path, method = response.request.path, response.request.method
        if response.is_json and path != self.spec_path:
            if self.checker is None:
                self.checker = OpenAPIChecker(super().open(self.spec_path).get_json())
            self.checker.check(path, method, response.status_code, response.get_json())
            self.checked += 1
        return response


def checking_client(app, prefix: str = "") -> CheckingClient:
    """A test client for `app` whose JSON responses are all checked against its OpenAPI document."""
    app.test_client_class = CheckingClient
    client = app.test_client()
    assert isinstance(client, CheckingClient)
    client.spec_path = prefix + "/openapi.json"
    return client
