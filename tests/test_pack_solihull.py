"""The Solihull pack (rules/solihull/2018.yaml): its identity, deadlines, prohibitions and readings.

Every case of ``rules/solihull/2018.tests.yaml`` is checked on both engines, for agreement between
them and for coverage of every rule, action and level, by ``tests/test_shipped_packs.py`` and the
pytest plugin. These tests pin the structured deadlines and prohibitions, and the readings that
distinguish Solihull from London.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from dvsafeguard import evaluate, load_pack
from dvsafeguard.pack import Pack
from dvsafeguard.packtest import load_tests

ROOT = Path(__file__).resolve().parents[1]
PACK_FILE = ROOT / "rules" / "solihull" / "2018.yaml"
TESTS_FILE = ROOT / "rules" / "solihull" / "2018.tests.yaml"


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack("solihull@2018")


def test_tests_file_has_at_least_30_tests() -> None:
    assert len(load_tests(TESTS_FILE).tests) >= 30


# --------------------------------------------------------------------------------------------
# The pack itself
# --------------------------------------------------------------------------------------------


def test_pack_loads_with_its_identity(pack: Pack) -> None:
    assert pack.ref == "solihull@2018"
    assert pack.level_ids == ["not_enough_information", "scale_1", "scale_2", "scale_3", "scale_4"]
    assert pack.default_outcome == "not_enough_information"
    assert pack.source.sha256 == "249aceef0c96628e5d414b6d0da0ff810a8706bd81a2ff00ef2de759e1039de5"
    assert str(pack.in_force.from_) == "2018-05-25"
    assert Path(pack.path or "").resolve() == PACK_FILE


def test_every_reading_names_a_note_and_every_citation_names_a_printed_heading(pack: Pack) -> None:
    notes = {n.id for n in pack.notes}
    headings = (
        "Professional response and support", "Police Response", "Domestic Abuse Triage", "MARAC",
        "Honour Based Violence", "Safety Planning", "Confidentiality and Information Sharing",
        "Good practice guidelines for an effective response to domestic abuse",
        "On Unborn Children:", "Introduction",
    )
    for rule in pack.rules:
        assert rule.reading is None or rule.reading in notes, rule.id
        assert rule.citation.paragraph.startswith(headings), rule.citation.paragraph
    for action in pack.actions:
        assert action.citation.paragraph.startswith(headings), action.citation.paragraph
    # there is no "DVRIM" heading in the text
    assert not any(r.citation.paragraph.startswith("DVRIM") for r in pack.rules)


def test_deadlines_are_structured(pack: Pack) -> None:
    mash = pack.action("escalate-to-mash").deadline
    assert mash is not None and mash.kind == "immediately"
    panel = pack.action("triage-panel-within-48-hours").deadline
    assert panel is not None and (panel.kind, panel.amount) == ("within_hours", 48)
    marac = pack.action("police-present-at-next-marac").deadline
    assert marac is not None and marac.kind == "at_next"
    police = pack.action("police-immediate-protective-action").deadline
    assert police is not None and police.kind == "immediately"
    # the text gives no deadline for a referral to Children's Social Work Services: none invented
    for a in ("refer-csws-child-in-need", "refer-csws-child-protection", "contact-csws"):
        assert pack.action(a).deadline is None, a


def test_prohibitions_are_must_not(pack: Pack) -> None:
    must_not = {a.id for a in pack.actions if a.kind == "must_not"}
    assert must_not == {
        "dvrim-not-with-children", "enquiries-never-with-abuser", "raise-only-alone-in-private",
        "never-assume-someone-else", "do-not-escalate-risk", "do-not-collude",
        "child-plan-not-without-mother", "contact-not-a-private-matter",
        "hbv-child-confidentiality-from-family",
    }


def test_no_mediation_or_community_leader_rule_is_cited_to_this_text(pack: Pack) -> None:
    texts = [a.text + " " + a.citation.quote for a in pack.actions]
    texts += [r.title + " " + r.citation.quote for r in pack.rules]
    forbidden = re.compile(r"\bmediat|\bleaders?\b", re.IGNORECASE)
    for text in texts:
        assert not forbidden.search(text), text
    assert forbidden.search("refer to mediation") and not forbidden.search("immediate")


# --------------------------------------------------------------------------------------------
# Readings that distinguish Solihull (direct checks, beyond the YAML tests)
# --------------------------------------------------------------------------------------------

_BASE: dict[str, Any] = {
    "assessment_date": "2021-03-01",
    "children": [{"age_months": 4, "in_household": True, "special_needs": True}],
    "children_complete": True,
}


def test_all_vulnerabilities_at_once_leave_scale_1_at_scale_1(pack: Pack) -> None:
    case = {
        **_BASE,
        "victim": {"pregnant": True, "special_needs": True, "high_coercive_control": True,
                   "minority_community": True, "children_have_contact_with_abuser": True},
        "assessments": {"dvrim_scale": 1},
    }
    d = evaluate(case, pack)
    assert (d.outcome.id, d.settled, d.bounds.highest.id) == ("scale_1", True, "scale_1")
    assert {f.id for f in d.factors} == {
        "baby-under-12-months", "unborn-child", "child-under-7", "special-needs",
        "high-coercive-control", "minority-community", "contact-with-abusive-parent",
    }
    assert all(f.outcome is None for f in d.factors)
    assert "recheck-vulnerability-raises-scale" in [a.id for a in d.actions]
    assert d.dimensions["csc_referral"].value == "consider"


def test_each_recorded_scale_is_the_outcome_and_unknown_is_not_scale_1(pack: Pack) -> None:
    for n in (1, 2, 3, 4):
        d = evaluate({**_BASE, "assessments": {"dvrim_scale": n}}, pack)
        assert (d.outcome.id, d.settled) == (f"scale_{n}", True)
    unknown = evaluate(_BASE, pack)
    assert unknown.outcome.id == "not_enough_information"
    assert (unknown.bounds.lowest.id, unknown.bounds.highest.id) == (
        "not_enough_information", "scale_4")
    dvrim = next(u for u in unknown.unknowns if u.fact == "assessments.dvrim_scale")
    assert dvrim.could_raise_to == "scale_4"


def test_csc_referral_rises_with_the_scale(pack: Pack) -> None:
    values = [evaluate({**_BASE, "assessments": {"dvrim_scale": n}}, pack)
              .dimensions["csc_referral"].value for n in (1, 2, 3, 4)]
    assert values == ["consider", "consider", "required", "required"]


def test_triage_level_boundary(pack: Pack) -> None:
    def actions(level: int, open_case: bool) -> set[str]:
        case = {**_BASE, "assessments": {"police_triage_level": level,
                                         "open_to_social_care": open_case}}
        return {a.id for a in evaluate(case, pack).actions}

    assert "escalate-to-mash" in actions(4, False)
    assert "escalate-to-mash" not in actions(3, False)
    assert "triage-panel-within-48-hours" in actions(3, False)
    assert "triage-panel-within-48-hours" not in actions(4, False)
    assert "triage-panel-within-48-hours" not in actions(3, True)
    assert "forward-to-caseworker" in actions(3, True)
    assert "forward-to-caseworker" not in actions(3, False)


def test_bad_dvrim_scale_is_an_error_not_a_lower_outcome(pack: Pack) -> None:
    from dvsafeguard import InputError

    with pytest.raises(InputError) as err:
        evaluate({**_BASE, "assessments": {"dvrim_scale": 5}}, pack)
    assert "assessments.dvrim_scale" in str(err.value)


def test_bundled_example_decides_as_its_header_says(pack: Pack) -> None:
    from dvsafeguard import load_case

    case = load_case(ROOT / "examples" / "solihull-health-visitor-scale-2.yaml")
    d = evaluate(case, pack)
    assert (d.outcome.id, d.settled) == ("scale_2", True)
    assert d.unknowns == []
    assert {f.id for f in d.factors} == {
        "baby-under-12-months", "child-under-7", "high-coercive-control", "minority-community",
        "contact-with-abusive-parent",
    }
    actions = {a.id for a in d.actions}
    assert {"recheck-vulnerability-raises-scale", "multi-agency-family-support",
            "team-around-the-family", "check-known-to-csws", "consider-csws-referral-no-consent",
            "contact-csws", "refer-to-ppu", "triage-panel-within-48-hours"} <= actions
    assert not {"refer-csws-child-in-need", "escalate-to-mash",
                "forward-dash-and-marac-referral"} & actions
    assert {k: v.value for k, v in d.dimensions.items()} == {
        "csc_referral": "consider", "marac": "consider", "early_help": "required"}
    assert d.comparable() == evaluate(case, pack, engine="durable").comparable()
