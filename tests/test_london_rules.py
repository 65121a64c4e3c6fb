"""London 2008: each cited rule and its edge, through the public evaluate()."""

from __future__ import annotations

import pytest

import dvsafeguard as dv
from conftest import base_case


def ids(d: dv.Decision) -> set[str]:
    return {r.id for r in d.rules}


def actions(d: dv.Decision) -> set[str]:
    return {a.id for a in d.actions}


def test_nothing_known_is_insufficient_information_with_every_scale_reachable(london: dv.Pack) -> None:
    d = dv.evaluate({"assessment_date": "2009-01-10"}, london)
    assert d.outcome.id == "insufficient_information"  # 9.2.1
    assert not d.settled
    assert d.bounds.highest.id == "scale_4"  # 9.2.6
    unknown = {u.fact for u in d.unknowns}
    assert {"matrix", "victim.pregnant"} <= unknown


@pytest.mark.parametrize(("dob", "scale"), [("2008-01-11", "scale_4"), ("2008-01-10", "scale_1")])
def test_9_3_1_baby_under_12_months_edge(london: dv.Pack, dob: str, scale: str) -> None:
    case = base_case(children=[{"date_of_birth": dob, "present_at_incident": False}],
                     matrix=[{"scale": 1, "category": "evidence"}])
    d = dv.evaluate(case, london)
    assert d.outcome.id == scale
    assert ("baby-under-12-months" in ids(d)) is (scale == "scale_4")
    if scale == "scale_4":
        assert "refer-csc-9-3-1" in actions(d)
        assert any(r.citation.paragraph == "9.3.1" for r in d.rules)


def test_9_3_1_unborn_child_and_pregnancy(london: dv.Pack) -> None:
    unborn = dv.evaluate(base_case(children=[{"unborn": True}]), london)
    pregnant = dv.evaluate(base_case(victim={"pregnant": True}), london)
    assert unborn.outcome.id == pregnant.outcome.id == "scale_4"


def test_9_3_1_needs_domestic_violence(london: dv.Pack) -> None:
    case = base_case(victim={"pregnant": True}, incidents=[], concerns={"domestic_abuse_known": None})
    d = dv.evaluate(case, london)
    assert d.outcome.id != "scale_4" and d.bounds.highest.id == "scale_4"
    assert any(u.fact == "concerns.domestic_abuse_known" and u.could_raise_to == "scale_4" for u in d.unknowns)


def test_unknown_child_age_keeps_scale_4_reachable_and_names_the_child(london: dv.Pack) -> None:
    d = dv.evaluate(base_case(children=[{"in_household": True}],
                              matrix=[{"scale": 2, "category": "evidence"}]), london)
    assert d.outcome.id == "scale_2"
    assert d.bounds.highest.id == "scale_4"
    raising = {u.fact for u in d.unknowns if u.could_raise_to == "scale_4"}
    assert "children[0].age_months" in raising


def test_9_2_5_tie_between_scales_takes_the_higher(london: dv.Pack) -> None:
    d = dv.evaluate(base_case(matrix=[{"scale": 2, "category": "evidence"},
                                      {"scale": 3, "category": "risk_factor"}]), london)
    assert d.outcome.id == "scale_3"
    assert {"matrix-scale-2", "matrix-scale-3"} <= ids(d)
    assert d.combination.paragraph == "9.2.5"
    assert d.settled


@pytest.mark.parametrize(("specss", "scale"), [("standard", "scale_1"), ("medium", "scale_2"), ("high", "scale_3")])
def test_10_5_specss(london: dv.Pack, specss: str, scale: str) -> None:
    d = dv.evaluate(base_case(assessments={"specss": specss}, matrix=[]), london)
    assert d.outcome.id == scale


@pytest.mark.parametrize(("tick", "expected"), [(1, "scale_2"), (2, "scale_3")])
def test_no_consent_raises_the_threshold(london: dv.Pack, tick: int, expected: str) -> None:
    base = base_case(matrix=[{"scale": tick, "category": "evidence"}])
    consent = dv.evaluate({**base, "victim": {"pregnant": False, "consents_to_early_help": True}}, london)
    refused = dv.evaluate({**base, "victim": {"pregnant": False, "consents_to_early_help": False}}, london)
    assert consent.outcome.id == f"scale_{tick}"
    assert refused.outcome.id == expected
    assert refused.rules[-1].reading is not None or any(r.reading for r in refused.rules)


def test_scale_actions_and_dimensions(london: dv.Pack) -> None:
    s1 = dv.evaluate(base_case(matrix=[{"scale": 1, "category": "evidence"}]), london)
    assert {"complete-caf", "caf-safety-planning"} <= actions(s1)
    assert s1.dimensions["early_help"].value == "required"
    assert s1.dimensions["csc_referral"].value == "not_required"
    s3 = dv.evaluate(base_case(matrix=[{"scale": 3, "category": "evidence"}]), london)
    assert {"refer-csc-scale-3", "consider-marac"} <= actions(s3)
    assert s3.dimensions["marac"].value == "consider"
    s4 = dv.evaluate(base_case(matrix=[{"scale": 4, "category": "evidence"}]), london)
    refer = next(a for a in s4.actions if a.id == "refer-csc-scale-4")
    assert refer.in_writing and refer.citation.paragraph == "9.5.5 b)"
    assert s4.dimensions["marac"].value == "required"


def test_9_6_1_no_children_confirmed(london: dv.Pack) -> None:
    d = dv.evaluate(base_case(children=[], assessments={"specss": "high"}), london)
    assert {"no-children-in-household", "no-children-marac"} <= ids(d)
    assert "refer-csc-scale-3" not in actions(d)
    assert "refer-woman-dv-agency" in actions(d)
    # not confirmed: the children's actions stay
    unconfirmed = dv.evaluate(base_case(children=None, assessments={"specss": "high"}), london)
    assert "refer-csc-scale-3" in actions(unconfirmed)
    assert "no-children-in-household" not in ids(unconfirmed)


def test_14_and_15_actions(london: dv.Pack) -> None:
    d = dv.evaluate(base_case(matrix=[{"scale": 4, "category": "evidence"}],
                              victim={"staying_with_abuser": True, "children_have_contact_with_abuser": True,
                                      "contact_risk_found": True}), london)
    must_not = [a for a in d.actions if a.kind == "must_not"]
    assert [a.citation.paragraph for a in must_not] == ["14.3.3"]
    assert {"refer-csc-disagreement", "no-unsupervised-contact", "tell-court-contact"} <= actions(d)


def test_17_2_child_who_abuses(london: dv.Pack) -> None:
    d = dv.evaluate(base_case(children=[{"age_years": 15, "abusing_family_members": True}]), london)
    assert "refer-child-who-abuses" in actions(d)
    assert d.dimensions["csc_referral"].value == "required"


def test_unknown_fact_shows_pending_action(london: dv.Pack) -> None:
    d = dv.evaluate(base_case(matrix=[{"scale": 1, "category": "evidence"}],
                              abusive_partner={"willing_to_join_programme": None}), london)
    pending = {a.id: a for a in d.possible_actions}
    assert "refer-perpetrator-programme" in pending
    assert "abusive_partner.willing_to_join_programme" in pending["refer-perpetrator-programme"].if_known
