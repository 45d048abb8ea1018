"""Holds the Python SDK's answer parsers (sdk/python/faas_sdk) against /openapi.json.

Run by test/api/openapi.test.ts with the served document on stdin; prints a JSON report
``{"checked": [...], "problems": [...]}``. Each parser is fed an answer made from its schema in
the document (every property present) wrapped so that every key it reads is recorded, then:

* a key read with ``d[key]`` (the parser assumes it is there) must be a required property;
* a key read with ``d.get(key)`` must be a property (an error object may be read with the
  keys of ``ErrorBody``: all of them go through the one ``error_from_body``);
* every required property of every object the parser looks into must be read, unless listed
  in ``NOT_READ`` with the reason;
* each dataclass field (but ``raw``) is the snake_case of a top-level property, and a field
  whose type is not ``Optional`` is a required, non-nullable property in every variant;
* the SDK's error classes cover exactly the document's error codes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import typing
from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python"))

from faas_sdk import exceptions, instances, models  # noqa: E402

# Required properties the Python SDK does not read on purpose.
NOT_READ: Dict[str, str] = {
    "compileError": "ExecutionResult reports it as failure == 'compile' (the server sets both)",
}

Path = Tuple[str, ...]


class Recorder(Mapping):  # type: ignore[type-arg]
    """A read-only answer that records each key read: (path, how) with how 'get' or 'index'."""

    def __init__(self, data: Dict[str, Any], path: Path, log: List[Tuple[Path, str]]) -> None:
        self._data, self._path, self._log = data, path, log

    def _wrap(self, key: str, value: Any) -> Any:
        return wrap(value, self._path + (key,), self._log)

    def __getitem__(self, key: str) -> Any:
        self._log.append((self._path + (key,), "index"))
        return self._wrap(key, self._data[key])

    def get(self, key: str, default: Any = None) -> Any:
        self._log.append((self._path + (key,), "get"))
        return self._wrap(key, self._data[key]) if key in self._data else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def wrap(value: Any, path: Path, log: List[Tuple[Path, str]]) -> Any:
    if isinstance(value, dict):
        return Recorder(value, path, log)
    if isinstance(value, list):
        return [wrap(v, path, log) for v in value]
    return value


class Schemas:
    def __init__(self, doc: Dict[str, Any]) -> None:
        self.components: Dict[str, Any] = doc["components"]["schemas"]

    def resolve(self, s: Any) -> Dict[str, Any]:
        while isinstance(s, dict) and "$ref" in s:
            s = self.components[s["$ref"].rsplit("/", 1)[-1]]
        return s if isinstance(s, dict) else {}

    def variants(self, s: Any) -> List[Dict[str, Any]]:
        """The object shapes a schema allows (anyOf / oneOf branches, allOf merged)."""
        s = self.resolve(s)
        for key in ("anyOf", "oneOf"):
            if key in s:
                return [v for branch in s[key] for v in self.variants(branch)]
        if "allOf" in s:
            merged: Dict[str, Any] = {"properties": {}, "required": []}
            for part in s["allOf"]:
                for v in self.variants(part):
                    merged["properties"].update(v.get("properties", {}))
                    merged["required"] += v.get("required", [])
            return [merged]
        return [s]

    def sample(self, s: Any) -> Any:
        """An answer this schema allows, with every property there."""
        s = self.resolve(s)
        if "const" in s:
            return s["const"]
        if "enum" in s:
            return s["enum"][0]
        for key in ("anyOf", "oneOf"):
            if key in s:
                return self.sample(next((b for b in s[key] if self.resolve(b).get("type") != "null"), s[key][0]))
        if "allOf" in s:
            return self.sample(self.variants(s)[0])
        t = s.get("type")
        if isinstance(t, list):
            t = next((x for x in t if x != "null"), "null")
        if t == "object" or "properties" in s:
            return {k: self.sample(v) for k, v in s.get("properties", {}).items()}
        if t == "array":
            return [self.sample(s.get("items", {}))]
        if t == "string":
            return {"date-time": "2026-01-02T03:04:05.000Z", "date": "2026-01-02"}.get(s.get("format", ""), "text")
        return {"integer": 7, "number": 1.5, "boolean": True, "null": None}.get(str(t), "any")


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def nullable(prop: Dict[str, Any], sch: Schemas) -> bool:
    p = sch.resolve(prop)
    t = p.get("type")
    if t == "null" or (isinstance(t, list) and "null" in t):
        return True
    return any(nullable(b, sch) for k in ("anyOf", "oneOf") for b in p.get(k, []))


class Check:
    def __init__(self, doc: Dict[str, Any]) -> None:
        self.sch = Schemas(doc)
        self.problems: List[str] = []
        self.checked: List[str] = []
        error = self.sch.variants(self.sch.components["ErrorBody"])[0]
        self.error_keys: Set[str] = set(error.get("properties", {}))

    def shapes_at(self, variant: Dict[str, Any], path: Path) -> List[Dict[str, Any]]:
        """The object shapes at `path` below a top-level variant."""
        shapes = [variant]
        for key in path:
            nxt: List[Dict[str, Any]] = []
            for shape in shapes:
                prop = shape.get("properties", {}).get(key)
                if prop is None:
                    continue
                p = self.sch.resolve(prop)
                nxt += self.sch.variants(p["items"] if "items" in p else p)
            shapes = nxt
        return shapes

    def reads(self, name: str, variants: List[Dict[str, Any]], variant: Dict[str, Any], parse: Callable[[Any], Any]) -> None:
        """Feeds `parse` an answer of one variant; checks what it read against the document."""
        log: List[Tuple[Path, str]] = []
        parse(wrap(self.sch.sample(variant), (), log))
        guarded = set()
        for path, how in log:
            if how == "get":
                guarded.add(path)  # `d[key] if isinstance(d.get(key), ...)`: read only when there
                continue
            if path in guarded:
                continue
            if not all(path[-1] in s.get("required", []) for s in self.shapes_at(variant, path[:-1])):
                self.problems.append(f"{name}: {'.'.join(path)} is read as always there (d[key]) but the document has it optional")
        for path in {p for p, _ in log}:
            # A top-level key may belong to another variant of a union (one parser reads them all).
            shapes = [s for v in variants for s in self.shapes_at(v, ())] if len(path) == 1 else self.shapes_at(variant, path[:-1])
            props = {k for s in shapes for k in s.get("properties", {})}
            if any({"code", "message"} <= set(s.get("properties", {})) for s in shapes):
                props |= self.error_keys
            if path[-1] not in props:
                self.problems.append(f"{name}: {'.'.join(path)} is read but the document has no such property")
        read = {p for p, _ in log}
        for base in sorted({p[:-1] for p in read} | {()}):
            for shape in self.shapes_at(variant, base):
                for req in shape.get("required", []):
                    if base + (req,) not in read and req not in NOT_READ:
                        self.problems.append(f"{name}: required property {'.'.join(base + (req,))} is not read by the Python SDK")

    def model(self, cls: type, component: str, parse: Optional[Callable[[Any], Any]] = None) -> None:
        """A dataclass parsed by `parse` (default: cls.from_json) from the component's answers."""
        self.checked.append(f"{cls.__module__}.{cls.__name__} ~ {component}")
        variants = self.sch.variants(self.sch.components[component])
        for i, variant in enumerate(variants):
            self.reads(f"{cls.__name__}[{i}]" if len(variants) > 1 else cls.__name__, variants, variant, parse or getattr(cls, "from_json"))
        self.fields(cls, component)

    def fields(self, cls: type, component: str, at: Path = ()) -> None:
        """The dataclass's fields against the shapes at `at` in the component (its answers' nested parts)."""
        if at:
            self.checked.append(f"{cls.__module__}.{cls.__name__} ~ {component}.{'.'.join(at)}")
        variants = [s for v in self.sch.variants(self.sch.components[component]) for s in self.shapes_at(v, at)]
        where = f"{component}.{'.'.join(at)}" if at else component
        hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name == "raw":
                continue
            key = camel(f.name)
            props = [v.get("properties", {}).get(key) for v in variants]
            if all(p is None for p in props):
                self.problems.append(f"{cls.__name__}.{f.name}: the document's {where} has no property {key}")
                continue
            optional = type(None) in typing.get_args(hints[f.name]) or hints[f.name] is Any
            if not optional and not all(p is not None and key in v.get("required", []) and not nullable(p, self.sch) for v, p in zip(variants, props)):
                self.problems.append(f"{cls.__name__}.{f.name} is not Optional but {where}.{key} may be missing or null")

    def error_body(self) -> None:
        self.checked.append("faas_sdk.exceptions.error_from_body ~ ErrorBody")
        codes = self.sch.resolve(self.sch.components["ErrorBody"]["properties"]["code"]).get("enum", [])
        variant = self.sch.variants(self.sch.components["ErrorBody"])[0]
        for code in codes:
            self.reads(f"error_from_body({code})", [variant], variant, lambda d, c=code: exceptions.error_from_body(429, _with(d, "code", c)))
        sdk_codes = set(exceptions._CLASS_OF_CODE)  # noqa: SLF001 (the SDK's own table)
        for missing in sorted(set(codes) - sdk_codes):
            self.problems.append(f"error code {missing} has no error class in faas_sdk.exceptions")
        for extra in sorted(sdk_codes - set(codes)):
            self.problems.append(f"faas_sdk.exceptions knows error code {extra}, which the document does not")


def _with(d: Recorder, key: str, value: Any) -> Recorder:
    """The same recorded answer with one key's value replaced."""
    return Recorder({**d._data, key: value}, d._path, d._log)  # noqa: SLF001


def main() -> None:
    doc = json.load(sys.stdin)
    c = Check(doc)
    c.model(models.ExecutionResult, "ExecutionResult")
    c.model(models.ExecutionInfo, "ExecutionInfo")
    c.model(models.StreamEvent, "StreamEvent")
    c.model(models.CurrentUsage, "CurrentUsage")
    c.model(models.UsageMetrics, "UsageMetrics")
    c.fields(models.ResourceUsage, "ExecutionResult", ("usage",))
    c.fields(models.RateLimitStatus, "CurrentUsage", ("rateLimit",))
    c.fields(models.DailyUsage, "UsageMetrics", ("daily",))
    c.model(instances.Instance, "InstanceInfo")
    c.model(instances.SshInfo, "SshInfo")
    c.model(instances.Exposure, "Exposure")
    c.error_body()
    json.dump({"checked": c.checked, "problems": c.problems}, sys.stdout)


if __name__ == "__main__":
    main()
