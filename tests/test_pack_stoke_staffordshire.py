"""The Stoke-on-Trent and Staffordshire pack (Version 1, September 2019): what its pack tests
cannot say.

Every case of ``rules/stoke-staffordshire/2019-09.tests.yaml`` is checked on both engines, for
agreement between them and for coverage of every rule, action and level, by
``tests/test_shipped_packs.py`` and the pytest plugin. These tests pin the rest: the MARF deadline,
the printed names and numbers of the routes, and that an unknown area never leaves the referral
without a route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dvsafeguard import evaluate, load_case, load_pack
from dvsafeguard.packtest import load_tests

ROOT = Path(__file__).resolve().parents[1]
TESTS_FILE = ROOT / "rules" / "stoke-staffordshire" / "2019-09.tests.yaml"
PACK = load_pack("stoke-staffordshire@2019-09")
LOADED = load_tests(TESTS_FILE)


def test_tests_file_names_this_pack_and_has_a_test_for_every_two_rules() -> None:
    assert LOADED.pack.ref == PACK.ref
    assert len(LOADED.tests) >= len(PACK.rules) // 2


def _by_name(name: str) -> dict[str, Any]:
    """The case of the pack test called ``name``, as a fresh mapping (safe to change)."""
    test = next(t for t in LOADED.tests if t.name == name)
    return test.case.model_dump(mode="json", exclude_unset=True)


SH_STOKE_IN_HOURS = (
    "significant harm in Stoke-on-Trent in office hours goes to the Safeguarding Referral Team"
)
SH_UNKNOWN_AREA = (
    "significant harm in an unknown area lists both routes and both duty teams as possible"
)


def test_telephone_referral_is_followed_up_in_writing_within_48_hours() -> None:
    d = evaluate(_by_name(SH_STOKE_IN_HOURS), PACK)
    marf = next(a for a in d.actions if a.id == "marf-within-48-hours")
    assert marf.kind == "must"
    assert marf.in_writing is True
    assert marf.deadline is not None
    assert (marf.deadline.kind, marf.deadline.amount) == ("within_hours", 48)
    assert "Multi-Agency Referral Form (MARF)" in marf.text
    assert marf.citation.paragraph == "09, paragraph 2"


def test_immediate_referral_is_a_must_with_an_immediate_deadline() -> None:
    d = evaluate(_by_name(SH_STOKE_IN_HOURS), PACK)
    refer = next(a for a in d.actions if a.id == "refer-csc-immediately")
    assert refer.kind == "must"
    assert refer.deadline is not None and refer.deadline.kind == "immediately"
    applied = next(r for r in d.rules if r.id == "significant-harm-immediate-referral")
    assert applied.reading is not None and applied.reading.id == "all-cases-immediate"
    assert applied.facts["concerns.significant_harm_suspected"] is True


def test_routes_and_numbers_are_as_printed() -> None:
    srt = PACK.action("refer-stoke-on-trent-srt").text
    assert "Stoke-on-Trent Children's Social Care, via the Safeguarding Referral Team (SRT)" in srt
    assert "01782 235100" in srt and "SRT@stoke.gcsx.gov.uk" in srt
    staffs = PACK.action("refer-staffordshire-families-first").text
    assert "Staffordshire Children's Social Care via Families First Team" in staffs
    assert "First Response Service" in staffs and "0800 13 13 126" in staffs
    assert "01782 234234" in PACK.action("emergency-duty-team-stoke-on-trent").text
    assert "0345 6042886" in PACK.action("emergency-duty-team-staffordshire").text


def test_unknown_area_never_leaves_the_referral_without_a_route() -> None:
    d = evaluate(_by_name(SH_UNKNOWN_AREA), PACK)
    required = {a.id for a in d.actions}
    possible = {a.id: a for a in d.possible_actions}
    assert "refer-csc-immediately" in required
    for route in ("refer-stoke-on-trent-srt", "refer-staffordshire-families-first"):
        assert route in possible
        assert "area" in possible[route].if_known
    for area, route in (("stoke-on-trent", "refer-stoke-on-trent-srt"),
                        ("staffordshire", "refer-staffordshire-families-first")):
        known = evaluate({**_by_name(SH_UNKNOWN_AREA), "area": area}, PACK)
        assert route in {a.id for a in known.actions}
        assert not {a.id for a in known.possible_actions} & {
            "refer-stoke-on-trent-srt", "refer-staffordshire-families-first"}


def test_out_of_hours_unknown_makes_the_duty_team_possible_and_in_hours_removes_it() -> None:
    case = _by_name(SH_STOKE_IN_HOURS)
    unknown_hours = {**case, "concerns": {**case["concerns"], "out_of_hours": None}}
    d = evaluate(unknown_hours, PACK)
    assert "emergency-duty-team-stoke-on-trent" in {a.id for a in d.possible_actions}
    assert "emergency-duty-team-staffordshire" not in {a.id for a in d.possible_actions}
    in_hours = evaluate(case, PACK)
    assert "emergency-duty-team-stoke-on-trent" not in {a.id for a in in_hours.possible_actions}
    assert "emergency-duty-team-stoke-on-trent" not in {a.id for a in in_hours.actions}


def test_marac_must_not_recommend_an_initial_child_protection_conference() -> None:
    action = PACK.action("marac-must-not-recommend-icpc")
    assert action.kind == "must_not"
    assert action.citation.paragraph == "11, paragraph 3"
    assert PACK.action("consent-never-delays-protection").kind == "must_not"


def test_every_reading_is_a_note_of_the_pack() -> None:
    notes = {n.id for n in PACK.notes}
    readings = {r.reading for r in PACK.rules if r.reading}
    assert readings <= notes
    assert "gap-between-08-and-09" in readings


def test_bundled_example_is_immediate_action_through_the_stoke_on_trent_duty_team() -> None:
    case = load_case(ROOT / "examples" / "stoke-staffordshire-weekend-callout.yaml")
    d = evaluate(case, PACK)
    assert (d.outcome.id, d.settled) == ("immediate_action", True)
    required = {a.id for a in d.actions}
    assert {"take-immediate-protective-action", "refer-stoke-on-trent-srt",
            "emergency-duty-team-stoke-on-trent", "marf-within-48-hours",
            "inform-police-without-delay", "put-forward-to-marac",
            "consent-never-delays-protection"} <= required
    assert "refer-staffordshire-families-first" not in required
    assert d.dimensions["marac"].value == "required"
    assert d.dimensions["csc_referral"].value == "required"
