"""JSON Schemas for editors: the committed files match the models, and real files validate.

``jsonschema`` is not a dependency, so the files are checked with a small validator below that
implements exactly the keywords the generated schemas use — and fails on any other keyword, so
a schema that grows a new construct cannot pass unchecked.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import dvsafeguard as dv
from dvsafeguard import schemas
from dvsafeguard.cli import main
from dvsafeguard.pack import pack_files

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
LONDON = ROOT / "rules" / "london" / "2008-03.yaml"

# --------------------------------------------------------------------------------------------
# a minimal JSON Schema (2020-12) validator for the keywords our schemas use
# --------------------------------------------------------------------------------------------

ANNOTATIONS = {"$schema", "$defs", "title", "description", "default", "examples"}
ASSERTIONS = {"$ref", "type", "enum", "const", "pattern", "format", "minLength", "minItems",
              "minimum", "maximum", "properties", "required", "additionalProperties",
              "propertyNames", "items", "anyOf", "oneOf"}
TYPES = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "number": lambda x: isinstance(x, int | float) and not isinstance(x, bool),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def validate(x: Any, schema: dict[str, Any], root: dict[str, Any], at: str = "$") -> list[str]:
    unknown = set(schema) - ANNOTATIONS - ASSERTIONS
    assert not unknown, f"the test validator does not implement {sorted(unknown)} (at {at})"
    errs: list[str] = []
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), ref
        errs += validate(x, root["$defs"][ref.removeprefix("#/$defs/")], root, at)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPES[t](x) for t in types):
            return errs + [f"{at}: {x!r} is not of type {types}"]
    if "enum" in schema and not any(_same(x, v) for v in schema["enum"]):
        errs.append(f"{at}: {x!r} is not one of {schema['enum'][:6]}...")
    if "const" in schema and not _same(x, schema["const"]):
        errs.append(f"{at}: {x!r} is not {schema['const']!r}")
    if isinstance(x, str):
        if "pattern" in schema and not re.search(schema["pattern"], x):
            errs.append(f"{at}: {x!r} does not match {schema['pattern']}")
        if len(x) < schema.get("minLength", 0):
            errs.append(f"{at}: too short")
        if schema.get("format") == "date":
            try:
                dt.date.fromisoformat(x)
            except ValueError:
                errs.append(f"{at}: {x!r} is not a date")
    if TYPES["number"](x):
        if "minimum" in schema and x < schema["minimum"]:
            errs.append(f"{at}: {x} < {schema['minimum']}")
        if "maximum" in schema and x > schema["maximum"]:
            errs.append(f"{at}: {x} > {schema['maximum']}")
    if isinstance(x, list):
        if len(x) < schema.get("minItems", 0):
            errs.append(f"{at}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(x):
                errs += validate(item, schema["items"], root, f"{at}[{i}]")
    if isinstance(x, dict):
        props = schema.get("properties", {})
        errs += [f"{at}: missing {k!r}" for k in schema.get("required", []) if k not in x]
        for k, v in x.items():
            if "propertyNames" in schema:
                errs += validate(k, schema["propertyNames"], root, f"{at} key {k!r}")
            if k in props:
                errs += validate(v, props[k], root, f"{at}.{k}")
            elif schema.get("additionalProperties") is False:
                errs.append(f"{at}: unknown key {k!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errs += validate(v, schema["additionalProperties"], root, f"{at}.{k}")
    if "anyOf" in schema and all(validate(x, s, root, at) for s in schema["anyOf"]):
        errs.append(f"{at}: matches none of anyOf")
    if "oneOf" in schema:
        passing = [s for s in schema["oneOf"] if not validate(x, s, root, at)]
        if len(passing) != 1:
            errs.append(f"{at}: matches {len(passing)} of oneOf, not exactly 1")
    return errs


def as_json(data: Any) -> Any:
    """YAML data as an editor's JSON view of it (dates become ISO strings)."""
    return json.loads(json.dumps(data, default=lambda v: v.isoformat()))


def load_schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def errors_for(data: Any, name: str) -> list[str]:
    schema = load_schema(name)
    return validate(as_json(data), schema, schema)


# --------------------------------------------------------------------------------------------
# drift
# --------------------------------------------------------------------------------------------


def test_committed_schemas_match_the_models() -> None:
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == sorted(schemas.SCHEMA_FILES)
    assert schemas.stale(SCHEMAS) == [], "run `dvsafeguard schemas` to regenerate"
    for name, schema in schemas.generate().items():
        assert json.loads((SCHEMAS / name).read_text(encoding="utf-8")) == schema


def test_schemas_command_writes_and_checks(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemas", "--check", "--out", str(tmp_path)]) == 1  # nothing written yet
    assert "missing" in capsys.readouterr().err
    assert main(["schemas", "--out", str(tmp_path)]) == 0
    for name in schemas.SCHEMA_FILES:
        assert (tmp_path / name).read_bytes() == (SCHEMAS / name).read_bytes()
    assert main(["schemas", "--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "case.schema.json").write_text("{}", encoding="utf-8")
    assert main(["schemas", "--check", "--out", str(tmp_path)]) == 1
    assert "case.schema.json: differs from the models" in capsys.readouterr().err


def test_schema_lists_the_known_facts_and_dimensions() -> None:
    pack = load_schema("pack.schema.json")
    facts = pack["$defs"]["FactTest"]["properties"]["fact"]["enum"]
    assert {"victim.pregnant", "derived.child_under_12_months", "scale", "age_months"} <= set(facts)
    assert pack["properties"]["dimensions"]["items"]["enum"] == ["csc_referral", "marac",
                                                                  "early_help"]


# --------------------------------------------------------------------------------------------
# real files validate; broken ones do not
# --------------------------------------------------------------------------------------------


def test_london_pack_validates_against_pack_schema() -> None:
    data = yaml.safe_load(LONDON.read_text(encoding="utf-8"))
    assert errors_for(data, "pack.schema.json") == []


def test_every_shipped_pack_and_pack_test_file_validates() -> None:
    for path in pack_files():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert errors_for(data, "pack.schema.json") == [], path
        declared = data.get("$schema")
        if declared:  # the editor link in the pack points at the real file
            assert (path.parent / declared).resolve() == (SCHEMAS / "pack.schema.json").resolve()
        tests = path.with_name(path.stem + ".tests.yaml")
        if tests.is_file():
            tdata = yaml.safe_load(tests.read_text(encoding="utf-8"))
            assert errors_for(tdata, "pack-tests.schema.json") == [], tests


def test_pack_schema_rejects_what_the_model_rejects() -> None:
    data = yaml.safe_load(LONDON.read_text(encoding="utf-8"))
    data["rules"][0]["outcom"] = data["rules"][0].pop("outcome")
    data["rules"][1]["when"] = {"fact": "victim.pregnat", "is": True}
    data["rules"][2]["when"] = {"fact": "victim.pregnant", "count": "children"}
    errs = errors_for(data, "pack.schema.json")
    assert any("$.rules[0]: unknown key 'outcom'" in e for e in errs)
    assert any(e.startswith("$.rules[1].when") for e in errs)
    assert any(e.startswith("$.rules[2].when") and "oneOf" in e for e in errs)
    with pytest.raises(dv.InputError):  # the model agrees
        dv.pack.pack_from_data(data)


def test_cases_and_decisions_validate() -> None:
    examples = sorted((ROOT / "examples").glob("*.yaml"))
    assert examples
    for path in examples:
        case = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert errors_for(case, "case.schema.json") == [], path
    case = yaml.safe_load((ROOT / "examples" / "london-baby-single-incident.yaml").read_text())
    decision = dv.evaluate(case, "london@2008-03")
    assert errors_for(decision.model_dump(mode="json"), "decision.schema.json") == []
    bad = dict(case, victim={"pregnant": "perhaps"})
    assert any("victim.pregnant" in e for e in errors_for(bad, "case.schema.json"))


def test_pack_tests_schema_checks_each_case_and_expectation() -> None:
    data = {"tests": [{"name": "t", "case": {"assessment_date": "2009-01-10", "victm": {}},
                       "expect": {"outcome": "scale_4", "outcomes": []}}]}
    errs = errors_for(data, "pack-tests.schema.json")
    assert any("unknown key 'victm'" in e for e in errs)
    assert any("unknown key 'outcomes'" in e for e in errs)


def test_the_case_format_doc_lists_every_fact() -> None:
    from dvsafeguard.facts import FactModel

    text = (Path(__file__).resolve().parents[1] / "docs" / "case-format.md").read_text(encoding="utf-8")
    missing = [f"{model.__name__}.{name}" for model in FactModel.__subclasses__()
               for name in model.model_fields if f"`{name}`" not in text]
    assert missing == [], "add these facts to the table in docs/case-format.md"
