"""Check the GitHub, GitLab and Quay stand-ins' traffic against tests/contracts/hosted-apis.json.

Each stand-in passes every request and its answer through `Contract.check`:
an operation must exist for the method and path, path parameters must match
their enums, the auth header must be present, a JSON body must fit the
operation's schema, and the answer's status must be one the operation declares
with a body that fits its schema.  Violations are collected in `problems`; the
fixtures assert it is empty, so a client that calls something the provider
does not have (or a stand-in that answers what the provider would not) fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft7Validator

from tests.support.registry_httpserver import Request, Response

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts" / "hosted-apis.json"


class Contract:
    def __init__(self, provider: str, path: Path = CONTRACTS) -> None:
        document = json.loads(path.read_text())
        self.definitions = document["definitions"]
        self.operations: list[dict[str, Any]] = document[provider]["operations"]
        self.problems: list[str] = []
        self.seen: list[str] = []

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return dict(self.definitions[ref.rsplit("/", 1)[-1]])
        return schema

    def _match(self, method: str, raw_path: str) -> tuple[dict[str, Any], dict[str, str]] | None:
        for operation in self.operations:
            if operation["method"] != method:
                continue
            # a parameter may span segments where the provider's router says so
            # (`path_patterns`, e.g. Quay's <apirepopath:repository>)
            spans: dict[str, str] = operation.get("path_patterns", {})
            pattern = operation["path"]
            for name in re.findall(r"\{(\w+)\}", pattern):
                pattern = pattern.replace(
                    "{" + name + "}", f"(?P<{name}>{spans.get(name, '[^/]+')})"
                )
            found = re.fullmatch(pattern, raw_path)
            if found:
                return operation, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def _schema_errors(self, schema: dict[str, Any], value: Any, where: str) -> None:
        validator = Draft7Validator(self._resolve(schema))
        for error in validator.iter_errors(value):
            self.problems.append(f"{where}: {error.message}")

    def check(self, request: Request, response: Response) -> None:
        where = f"{request.method} {request.target}"
        matched = self._match(request.method, request.raw_path)
        if matched is None:
            self.problems.append(f"{where}: no such operation in the published API")
            return
        operation, params = matched
        self.seen.append(operation["operationId"])
        for name, schema in operation.get("params", {}).items():
            self._schema_errors(schema, params.get(name), f"{where} path {name}")
        for header in operation.get("headers", []):
            if header not in request.headers:
                self.problems.append(f"{where}: missing header {header}")
        for name, schema in operation.get("query", {}).items():
            raw = request.arg(name)
            if raw is not None:
                value: Any = int(raw) if raw.isdigit() else raw
                self._schema_errors(schema, value, f"{where} query {name}")
        if "body" in operation:
            try:
                body = request.json()
            except ValueError:
                self.problems.append(f"{where}: body is not JSON")
            else:
                self._schema_errors(operation["body"], body, f"{where} body")
        declared = operation["responses"]
        status = str(response.status)
        if status not in declared:
            self.problems.append(f"{where}: answered {status}, which the API does not declare")
            return
        schema = declared[status]
        if schema is None:
            return
        try:
            answer = json.loads(response.body.decode() or "null")
        except ValueError:
            self.problems.append(f"{where}: answer {status} is not JSON")
            return
        self._schema_errors(schema, answer, f"{where} answer {status}")
