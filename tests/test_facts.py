"""Case facts: unknown stays unknown, derived facts are computed once and right at the edges."""

from __future__ import annotations

from datetime import date

import pytest

from dvsafeguard import Case, InputError
from dvsafeguard.derive import CaseView, child_age_months
from dvsafeguard.engine import compiled
from dvsafeguard.evaluate import case_from_data
from dvsafeguard.facts import Child


def derived(case: dict[str, object], name: str, pack: object) -> object:
    c = case_from_data(case)
    return compiled(pack).compiler.value_fn(name)(CaseView(c))  # type: ignore[arg-type]


def test_missing_facts_are_unknown_not_false() -> None:
    case = Case.model_validate({"assessment_date": "2009-01-10"})
    assert case.victim.pregnant is None
    assert case.children is None
    assert case.matrix is None
    assert case.concerns.significant_harm_suspected is None


@pytest.mark.parametrize(
    ("dob", "months"),
    [("2008-01-11", 11), ("2008-01-10", 12), ("2008-01-09", 12), ("2009-01-10", 0), ("2007-01-11", 23)],
)
def test_age_in_completed_months_on_the_assessment_date(dob: str, months: int) -> None:
    child = Child(date_of_birth=date.fromisoformat(dob))
    assert child_age_months(child, date(2009, 1, 10)) == (months, months)


def test_age_in_years_is_an_interval_and_unborn_is_below_zero() -> None:
    assert child_age_months(Child(age_years=1), date(2009, 1, 10)) == (12, 23)
    assert child_age_months(Child(age_years=0), date(2009, 1, 10)) == (0, 11)
    assert child_age_months(Child(unborn=True), date(2009, 1, 10)) == (-9, -1)
    assert child_age_months(Child(), date(2009, 1, 10)) is None


def test_child_under_12_months_edges(london: object) -> None:
    base = {"assessment_date": "2009-01-10", "victim": {"pregnant": False}, "children_complete": True}
    eleven = {**base, "children": [{"date_of_birth": "2008-01-11"}]}
    twelve = {**base, "children": [{"date_of_birth": "2008-01-10"}]}
    unknown_age = {**base, "children": [{"in_household": True}]}
    assert derived(eleven, "derived.child_under_12_months", london) is True
    assert derived(twelve, "derived.child_under_12_months", london) is False
    assert derived(unknown_age, "derived.child_under_12_months", london) is None
    # an incomplete list of children leaves a baby possible
    partial = {**twelve, "children_complete": None}
    assert derived(partial, "derived.child_under_12_months", london) is None
    # pregnancy counts as an unborn child
    pregnant = {**twelve, "victim": {"pregnant": True}}
    assert derived(pregnant, "derived.child_under_12_months", london) is True


def test_incident_window_is_twelve_calendar_months_inclusive(london: object) -> None:
    def count(dates: list[str]) -> object:
        case = {"assessment_date": "2009-01-10", "incidents_complete": True,
                "incidents": [{"date": d, "severity": "lesser"} for d in dates]}
        return derived(case, "derived.lesser_incidents_last_12_months", london)

    assert count(["2008-01-10", "2008-06-01", "2009-01-01"]) == (3.0, 3.0)
    assert count(["2008-01-09", "2008-06-01", "2009-01-01"]) == (2.0, 2.0)  # 12 months and a day
    undated = {"assessment_date": "2009-01-10", "incidents_complete": True,
               "incidents": [{"severity": "lesser"}]}
    assert derived(undated, "derived.lesser_incidents_last_12_months", london) == (0.0, 1.0)
    open_list = {"assessment_date": "2009-01-10", "incidents": []}
    assert derived(open_list, "derived.incidents_last_12_months", london) == (0.0, None)


NOT_PREGNANT = {"assessment_date": "2009-01-10", "victim": {"pregnant": False}}


def test_no_children_confirmed_is_never_unknown(london: object) -> None:
    assert derived({**NOT_PREGNANT, "children": []}, "derived.no_children_confirmed", london) is True
    assert derived(NOT_PREGNANT, "derived.no_children_confirmed", london) is False
    some = {**NOT_PREGNANT, "children": [{"age_years": 4}]}
    assert derived(some, "derived.no_children_confirmed", london) is False


@pytest.mark.parametrize(("extra", "confirmed", "no_children"), [
    ({"children": [], "victim": {"pregnant": False}}, True, True),
    ({"children": []}, False, None),  # pregnancy unknown: an unborn child is still possible
    ({"children": [], "victim": {"pregnant": True}}, False, False),  # 9.3.1: an unborn child
    ({"children": [{"age_years": 15, "in_household": False, "regularly_visits": False}],
      "children_complete": True, "victim": {"pregnant": False}}, True, True),
    ({"children": [{"in_household": False, "regularly_visits": False}], "children_complete": True,
      "victim": {"pregnant": False}}, False, None),  # no age and not known to be born: may be unborn
    ({"children": [{"age_years": 15, "in_household": False}], "children_complete": True,
      "victim": {"pregnant": False}}, False, None),  # may still visit
    ({"children": [{"in_household": False, "regularly_visits": True}], "children_complete": True,
      "victim": {"pregnant": False}}, False, False),  # a child who regularly visits is in the household
    ({"children": [{"unborn": True, "in_household": False}], "children_complete": True,
      "victim": {"pregnant": False}}, False, False),
    ({"children": [{"age_years": 15, "in_household": False, "regularly_visits": False}],
      "victim": {"pregnant": False}}, False, None),  # the list may not be complete
])
def test_no_children_in_the_household_needs_every_child_and_the_pregnancy_known(
        london: object, extra: dict[str, object], confirmed: bool, no_children: bool | None) -> None:
    case = {"assessment_date": "2009-01-10", **extra}
    assert derived(case, "derived.no_children_confirmed", london) is confirmed
    assert derived(case, "derived.no_children_in_household", london) is no_children


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"assessment_date": "2009-01-10", "children": [{"age_years": -1}]}, "children[0].age_years"),
        ({"assessment_date": "2009-01-10", "victim": {"pregnant": "maybe"}}, "victim.pregnant"),
        ({"assessment_date": "2009-01-10", "victim": {"pregant": True}}, "victim.pregant"),
        ({"assessment_date": "2009-01-10", "assessments": {"dash": "very high"}}, "assessments.dash"),
        ({"assessment_date": "2009-01-10", "area": "stoke"}, "area"),
        ({"victim": {"pregnant": True}}, "assessment_date"),
        ({"assessment_date": "2009-01-10", "incidents": [{"date": "2009-02-01"}]}, "incidents[0].date"),
        ({"assessment_date": "2009-01-10", "children": [{"date_of_birth": "2009-03-01"}]}, "date_of_birth"),
        ({"assessment_date": "2009-01-10", "children": [{"unborn": True, "age_years": 1}]}, "unborn"),
        ({"assessment_date": "2009-01-10", "children": [{"age_years": 2, "age_months": 11}]}, "disagree"),
    ],
)
def test_bad_case_input_names_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as err:
        case_from_data(data)
    assert field in str(err.value)


def test_in_on_a_count_is_three_valued(london: object) -> None:
    from dvsafeguard.conditions import compare

    assert compare("in", (2.0, 2.0), [2]) is True
    assert compare("in", (3.0, 3.0), [2]) is False
    assert compare("in", (0.0, None), [2]) is None  # an open list may still have two
    assert compare("in", (3.0, None), [2]) is False
    # through a pack: a rule on "exactly 2 incidents in 12 months"
    import yaml

    import dvsafeguard as dv
    from conftest import ROOT

    data = yaml.safe_load((ROOT / "rules" / "london" / "2008-03.yaml").read_text(encoding="utf-8"))
    data["rules"].append({"id": "two-incidents", "title": "t", "outcome": "scale_4",
                          "citation": {"paragraph": "9.2.1", "quote": "x"},
                          "when": {"fact": "derived.incidents_last_12_months", "in": [2]}})
    pack = dv.pack.pack_from_data(data)
    case = {"assessment_date": "2009-01-10", "incidents_complete": True,
            "incidents": [{"date": "2008-12-01"}, {"date": "2008-12-02"}]}
    for engine in ("compiled", "durable"):
        assert dv.evaluate(case, pack, engine=engine).outcome.id == "scale_4"  # type: ignore[arg-type]
