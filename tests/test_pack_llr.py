"""The LLR procedure 2.14 pack: its key rules, deadlines, readings and unknowns.

Every case of ``rules/llr/2.14.tests.yaml`` is checked on both engines, for agreement between
them and for coverage of every rule, action and level, by ``tests/test_shipped_packs.py`` and the
pytest plugin; its quotes and source hash by the lint of every shipped pack (``tests/test_lint.py``,
when the sources are at hand). These tests pin what the pack-test format cannot say.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import dvsafeguard as dv
from dvsafeguard.decision import RequiredAction
from dvsafeguard.packtest import load_tests

ROOT = Path(__file__).resolve().parents[1]
TESTS_FILE = ROOT / "rules" / "llr" / "2.14.tests.yaml"
CASES = {t.name: t.case for t in load_tests(TESTS_FILE).tests}

QUIET = ("quiet family: domestic abuse, one child, nothing on the 6.1 list — early help, "
         "no automatic referral")
CHILD_MADE_THE_CALL = "6.1 item 1: the child made the original call"


def _case(name: str) -> dict[str, Any]:
    """The case of the pack test called ``name``, as a fresh mapping (safe to change)."""
    return CASES[name].model_dump(mode="json", exclude_unset=True)


@pytest.fixture(scope="module")
def llr() -> dv.Pack:
    return dv.load_pack("llr@2.14")


def _action(case: dict[str, Any], pack: dv.Pack, action_id: str) -> RequiredAction:
    return next(a for a in dv.evaluate(case, pack).actions if a.id == action_id)


def test_written_confirmation_is_a_24_hour_written_must(llr: dv.Pack) -> None:
    case = _case(CHILD_MADE_THE_CALL)
    action = _action(case, llr, "confirm-referrals-in-writing")
    assert action.kind == "must"
    assert action.in_writing is True
    assert action.deadline is not None
    assert (action.deadline.kind, action.deadline.amount) == ("within_hours", 24)
    assert action.citation.paragraph == "4, paragraph 4"


def test_no_mediation_is_a_must_not(llr: dv.Pack) -> None:
    action = _action(_case(QUIET), llr, "no-informal-mediation")
    assert action.kind == "must_not"
    assert action.citation.paragraph == "3, paragraph 5"


def test_immediate_protection_is_immediate(llr: dv.Pack) -> None:
    quiet = _case(QUIET)
    case = {**quiet, "concerns": {**quiet["concerns"], "immediate_risk": True}}
    action = _action(case, llr, "refer-csc-immediate-protection")
    assert action.deadline is not None and action.deadline.kind == "immediately"


def test_readings_are_shown_with_the_rules_that_apply_them(llr: dv.Pack) -> None:
    case = {**_case(QUIET), "assessments": {"dash": "high", "marac_referred": False,
                                                "marac_convened": False}}
    d = dv.evaluate(case, llr)
    readings = {r.id: r.reading.id for r in d.rules if r.reading is not None}
    assert readings["dash-high-children-csc-and-marac"] == "very-high-risk"
    assert readings["dash-high-marac"] == "dash-high-marac-required"
    assert readings["dash-high-child-in-household"] == "household"


def test_unknowns_name_what_could_raise_the_outcome(llr: dv.Pack) -> None:
    case = {**_case(QUIET), "children": None, "children_complete": None,
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
