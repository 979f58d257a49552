"""Validate Harbor API requests and responses against Harbor's own Swagger 2.0 file.

The Harbor stand-in runs every request it receives and every response it
sends through `SwaggerSpec`; any mismatch is recorded as a violation and
fails the test.  Checked: the path and method exist; path, query and header
parameters have the declared types and limits (e.g. `page_size` <= 100);
no undeclared query parameter is sent; a JSON body matches its schema, with
no undeclared properties (so a misspelt field or `public: "false"` at the
wrong level is caught); the status code is declared; a response body matches
its schema.  Schemas are checked with jsonschema (Draft 4, which Swagger 2.0
schemas are a dialect of), with `#/definitions` resolved in the same document.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from jsonschema import Draft4Validator

SPEC_PATH = Path(__file__).resolve().parents[1] / "contracts" / "harbor-swagger.yaml"

# Answers real Harbor gives that its swagger does not declare; each with the reason.
UNDECLARED_BUT_REAL: dict[tuple[str, int], str] = {
    ("createProject", 403): "project creation restricted to admins (docs/facts.md; goharbor config "
    "project_creation_restriction=adminonly)",
}


def _strict(node: Any) -> Any:
    """Copy of a schema where objects with declared properties allow no others,
    and `x-nullable: true` admits null."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items()}
    if "properties" in out and "additionalProperties" not in out and "allOf" not in out:
        out["additionalProperties"] = False
    if out.get("x-nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _segment(part: str) -> str:
    if part.startswith("{") and part.endswith("}"):
        return f"(?P<{part[1:-1]}>[^/]+)"
    return re.escape(part)


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    regex: re.Pattern[str]
    spec: dict[str, Any]
    parameters: tuple[dict[str, Any], ...]

    @property
    def operation_id(self) -> str:
        return str(self.spec.get("operationId", f"{self.method} {self.template}"))


class SwaggerSpec:
    """Harbor's swagger, indexed for matching and validation."""

    def __init__(self, path: Path = SPEC_PATH) -> None:
        with path.open() as handle:
            self.doc: dict[str, Any] = yaml.load(
                handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            )
        self.base_path: str = self.doc.get("basePath", "")
        self.definitions = _strict(self.doc.get("definitions", {}))
        self.operations: list[Operation] = []
        for template, item in self.doc["paths"].items():
            shared = item.get("parameters", [])
            pattern = "^" + "/".join(_segment(part) for part in template.split("/")) + "$"
            for method, spec in item.items():
                if method == "parameters" or not isinstance(spec, dict):
                    continue
                params = tuple(self._param(p) for p in [*shared, *spec.get("parameters", [])])
                self.operations.append(
                    Operation(method.upper(), template, re.compile(pattern), spec, params)
                )

    def _ref(self, node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref")
        if not ref:
            return node
        target: Any = self.doc
        for part in ref.lstrip("#/").split("/"):
            target = target[part]
        return dict(target)

    def _param(self, node: dict[str, Any]) -> dict[str, Any]:
        return self._ref(node)

    @functools.lru_cache(maxsize=512)  # noqa: B019 - one spec per session
    def _validator(self, schema_json: str) -> Draft4Validator:
        schema = _strict(json.loads(schema_json))
        schema = {**schema, "definitions": self.definitions}
        return Draft4Validator(schema)

    def _schema_errors(self, schema: dict[str, Any], instance: Any, where: str) -> list[str]:
        validator = self._validator(json.dumps(schema, sort_keys=True))
        return [
            f"{where}: {error.message} at /{'/'.join(str(p) for p in error.absolute_path)}"
            for error in validator.iter_errors(instance)
        ]

    # -- matching -----------------------------------------------------------

    def match(self, method: str, raw_path: str) -> tuple[Operation, dict[str, str]] | None:
        """Match a request path as Harbor's router does: decoded once (Go's URL.Path)."""
        if not raw_path.startswith(self.base_path):
            return None
        path = unquote(raw_path[len(self.base_path) :])
        for op in self.operations:
            if op.method != method:
                continue
            found = op.regex.match(path)
            if found:
                return op, found.groupdict()
        return None

    # -- requests -----------------------------------------------------------

    def _value_errors(self, param: dict[str, Any], raw: str, where: str) -> list[str]:
        kind = param.get("type", "string")
        value: Any = raw
        if kind == "integer":
            try:
                value = int(raw)
            except ValueError:
                return [f"{where}: {raw!r} is not an integer"]
        elif kind == "boolean":
            if raw not in ("true", "false"):
                return [f"{where}: {raw!r} is not a boolean (true/false)"]
            value = raw == "true"
        schema: dict[str, Any] = {
            key: param[key]
            for key in ("type", "enum", "maximum", "minimum", "maxLength", "minLength", "pattern")
            if key in param
        }
        return self._schema_errors(schema, value, where)

    def validate_request(
        self,
        op: Operation,
        path_params: dict[str, str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> list[str]:
        name = op.operation_id
        problems: list[str] = []
        declared_query = {p["name"] for p in op.parameters if p.get("in") == "query"}
        for key in query:
            if key not in declared_query:
                problems.append(f"{name}: undeclared query parameter {key!r}")
        body_param = None
        for param in op.parameters:
            where = f"{name} {param['in']} parameter {param['name']}"
            location = param.get("in")
            if location == "path":
                problems += self._value_errors(param, path_params.get(param["name"], ""), where)
            elif location == "query":
                values = query.get(param["name"])
                if not values:
                    if param.get("required"):
                        problems.append(f"{where} is required")
                    continue
                for raw in values:
                    problems += self._value_errors(param, raw, where)
            elif location == "header":
                raw_header = headers.get(param["name"].lower())
                if raw_header is None:
                    if param.get("required"):
                        problems.append(f"{where} is required")
                    continue
                problems += self._value_errors(param, raw_header, where)
            elif location == "body":
                body_param = param
        if body_param is None:
            if body:
                problems.append(f"{name}: sends a body but the operation takes none")
            return problems
        if not body:
            if body_param.get("required"):
                problems.append(f"{name}: body is required")
            return problems
        content_type = headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/json":
            problems.append(f"{name}: body content type {content_type!r} is not application/json")
        try:
            instance = json.loads(body)
        except ValueError:
            return [*problems, f"{name}: body is not JSON"]
        return problems + self._schema_errors(body_param["schema"], instance, f"{name} body")

    # -- responses ----------------------------------------------------------

    def validate_response(
        self, op: Operation, status: int, headers: dict[str, str], body: bytes
    ) -> list[str]:
        name = op.operation_id
        responses = op.spec.get("responses", {})
        spec = responses.get(str(status)) or responses.get(status) or responses.get("default")
        if spec is None:
            if (name, status) in UNDECLARED_BUT_REAL:
                return []
            return [
                f"{name}: status {status} is not declared (declared: {sorted(map(str, responses))})"
            ]
        spec = self._ref(spec)
        schema = spec.get("schema")
        if op.method == "HEAD":
            return []  # a HEAD answer has no body to check
        if schema is None:
            return [f"{name} {status}: sends a body but the spec declares none"] if body else []
        produces = op.spec.get("produces") or self.doc.get("produces") or ["application/json"]
        if "text/plain" in produces and "application/json" not in produces:
            return self._schema_errors(schema, body.decode(), f"{name} {status} body")
        try:
            instance = json.loads(body) if body else None
        except ValueError:
            return [f"{name} {status}: body is not JSON"]
        return self._schema_errors(schema, instance, f"{name} {status} body")


@functools.lru_cache(maxsize=1)
def load_spec(path: str = str(SPEC_PATH)) -> SwaggerSpec:
    return SwaggerSpec(Path(path))
