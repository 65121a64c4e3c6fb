"""JSON Schemas for editors, generated from the models so they cannot drift.

``dvsafeguard schemas`` writes four files (default: the checkout's ``schemas/`` directory):

* ``pack.schema.json`` — a rule pack (:class:`dvsafeguard.pack.Pack`). Fact names, dimensions and
  dimension values are listed as enums, so an editor completes them and flags a misspelling;
* ``pack-tests.schema.json`` — a pack-test file (:class:`dvsafeguard.packtest_model.PackTestFile`),
  each test's ``case`` checked as a case;
* ``case.schema.json`` — a case (:class:`dvsafeguard.facts.Case`);
* ``decision.schema.json`` — a decision as ``dvsafeguard evaluate --json`` prints it
  (:class:`dvsafeguard.decision.Decision`, serialisation form).

A YAML file opts in with ``# yaml-language-server: $schema=../../schemas/pack.schema.json``.
``dvsafeguard schemas --check`` exits 1 when a written file differs from what the models give.
The schemas describe the *shape*; ``dvsafeguard lint`` checks what a schema cannot (references,
facts used per context, logic, citations against the source).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from .decision import Decision
from .derive import case_facts, item_facts
from .facts import Case
from .pack import DIMENSIONS, Pack
from .packtest_model import PackTestFile

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

__all__ = ["SCHEMA_FILES", "default_dir", "generate", "render", "stale", "write", "register", "run"]


def _schema(model: type[BaseModel], title: str, description: str,
            mode: JsonSchemaMode = "validation") -> dict[str, Any]:
    body = model.model_json_schema(by_alias=True, mode=mode)
    return {"$schema": JSON_SCHEMA_DIALECT, "title": title, "description": description,
            **{k: v for k, v in body.items() if k not in ("title", "description")}}


def _pack_schema() -> dict[str, Any]:
    s = _schema(Pack, "dvsafeguard rule pack",
                "One board's domestic-abuse procedure version as cited, declarative rules "
                "(rules/<board>/<version>.yaml).")
    defs = s["$defs"]
    facts = set(case_facts())
    for collection in ("children", "incidents", "matrix"):
        facts |= set(item_facts(collection))
    fact = defs["FactTest"]["properties"]["fact"]
    fact["enum"] = sorted(facts)
    fact["description"] = (fact.get("description", "") + " Inside a count's 'where', a field "
                           "of one item of the counted list.").strip()
    s["properties"]["dimensions"]["items"]["enum"] = list(DIMENSIONS)
    values = sorted({v for vs in DIMENSIONS.values() for v in vs})
    sets = defs["Rule"]["properties"]["sets"]
    sets["propertyNames"] = {"enum": list(DIMENSIONS)}
    sets["additionalProperties"] = {"enum": values}
    return s


def _pack_tests_schema() -> dict[str, Any]:
    s = _schema(PackTestFile, "dvsafeguard pack tests",
                "Cases and the decisions a pack must make for them "
                "(rules/<board>/<version>.tests.yaml).")
    case = Case.model_json_schema(by_alias=True)
    case_defs = case.pop("$defs", {})
    clash = set(case_defs) & set(s["$defs"]) | ({"Case"} & set(s["$defs"]))
    if clash:  # pragma: no cover - a model was renamed into a clash
        raise RuntimeError(f"schema definitions clash: {sorted(clash)}")
    s["$defs"].update(case_defs)
    s["$defs"]["Case"] = case
    test_props = s["$defs"]["PackTestCase"]["properties"]
    test_props["case"] = {"$ref": "#/$defs/Case",
                          "description": "The case, as in examples/ (a dvsafeguard case)."}
    return s


def generate() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema, from the current models."""
    return {
        "pack.schema.json": _pack_schema(),
        "pack-tests.schema.json": _pack_tests_schema(),
        "case.schema.json": _schema(
            Case, "dvsafeguard case",
            "One family as known on the assessment date. A missing fact is unknown, never false."),
        "decision.schema.json": _schema(
            Decision, "dvsafeguard decision",
            "A cited decision for one case under one pack version (dvsafeguard evaluate --json).",
            mode="serialization"),
    }


SCHEMA_FILES = ("pack.schema.json", "pack-tests.schema.json", "case.schema.json",
                "decision.schema.json")


def render(schema: dict[str, Any]) -> str:
    """The exact text written for a schema (stable, so the files can be compared)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def default_dir() -> Path:
    """The checkout's ``schemas/`` directory, or ``./schemas`` for an installed library."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "src" / "dvsafeguard").is_dir():
        return checkout / "schemas"
    return Path("schemas")


def write(out: Path | None = None) -> list[Path]:
    """Write every schema into ``out``; return the files written."""
    out = out or default_dir()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in generate().items():
        path = out / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def stale(out: Path | None = None) -> list[str]:
    """Schema files in ``out`` that are missing or differ from the models (empty: up to date)."""
    out = out or default_dir()
    bad = []
    for name, schema in generate().items():
        path = out / name
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            bad.append(f"{path}: missing")
            continue
        if current != render(schema):
            bad.append(f"{path}: differs from the models")
    return bad


def register(sub: Any) -> None:
    p = sub.add_parser(
        "schemas",
        help="write JSON Schemas for packs, pack tests, cases and decisions (for editors)",
        description="Generate JSON Schemas from the models. With --check, write nothing and exit "
                    "1 if the files are missing or out of date.",
    )
    p.add_argument("--out", metavar="DIR", type=Path, default=None,
                   help="directory to write into (default: the checkout's schemas/)")
    p.add_argument("--check", action="store_true",
                   help="check the files are up to date instead of writing them")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.check:
        bad = stale(args.out)
        for line in bad:
            print(line, file=sys.stderr)
        if bad:
            print("run `dvsafeguard schemas` to regenerate", file=sys.stderr)
            return 1
        print(f"schemas up to date in {args.out or default_dir()}")
        return 0
    for path in write(args.out):
        print(path)
    return 0
