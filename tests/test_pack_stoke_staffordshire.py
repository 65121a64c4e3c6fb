"""The Stoke-on-Trent and Staffordshire pack (Version 1, September 2019) against its pack tests.

Reads ``rules/stoke-staffordshire/2019-09.tests.yaml`` with ``yaml.safe_load`` and checks every
expectation of every test against ``evaluate(case, pack)``, one small helper per ``expect`` key,
and that the durable-rules engine makes the same decision as the compiled one. A few further
tests pin what the pack-test format cannot say: the MARF deadline, the printed names and
numbers of the routes, and that an unknown area never leaves the referral without a route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dvsafeguard import Decision, evaluate, load_case, load_pack

ROOT = Path(__file__).resolve().parents[1]
TESTS_FILE = ROOT / "rules" / "stoke-staffordshire" / "2019-09.tests.yaml"
PACK = load_pack("stoke-staffordshire@2019-09")
SPEC = yaml.safe_load(TESTS_FILE.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = SPEC["tests"]


# ---- one helper per expect key -------------------------------------------------------------


def _present(key: str, want: list[str], got: list[str]) -> None:
    """Every wanted id is present; an empty list means there must be none."""
    if not want:
        assert got == [], f"{key}: expected none, decided {got}"
    missing = [w for w in want if w not in got]
    assert not missing, f"{key}: missing {missing}; decided {got}"


def _absent(key: str, unwanted: list[str], got: list[str]) -> None:
    present = [u for u in unwanted if u in got]
    assert not present, f"{key}: should be absent but present {present}"


def _applied(d: Decision) -> list[str]:
    return [r.id for r in d.rules] + [r.id for r in d.factors]


CHECKS: dict[str, Any] = {
    "outcome": lambda d, v: _equal("outcome", d.outcome.id, v),
    "settled": lambda d, v: _equal("settled", d.settled, v),
    "lowest": lambda d, v: _equal("lowest", d.bounds.lowest.id, v),
    "highest": lambda d, v: _equal("highest", d.bounds.highest.id, v),
    "rules": lambda d, v: _present("rules", v, _applied(d)),
    "not_rules": lambda d, v: _absent("not_rules", v, _applied(d)),
    "actions": lambda d, v: _present("actions", v, [a.id for a in d.actions]),
    "not_actions": lambda d, v: _absent("not_actions", v, [a.id for a in d.actions]),
    "possible_actions": lambda d, v: _present(
        "possible_actions", v, [a.id for a in d.possible_actions]),
    "citations": lambda d, v: _present(
        "citations", v, [r.citation.paragraph for r in [*d.rules, *d.factors]]),
    "unknowns": lambda d, v: _present("unknowns", v, [u.fact for u in d.unknowns]),
    "dimensions": lambda d, v: _dimensions(d, v),
}


def _equal(key: str, got: Any, want: Any) -> None:
    assert got == want, f"{key}: expected {want!r}, decided {got!r}"


def _dimensions(d: Decision, want: dict[str, str]) -> None:
    for dim, value in want.items():
        assert dim in d.dimensions, f"dimension {dim} missing from the decision"
        _equal(f"dimensions.{dim}", d.dimensions[dim].value, value)


# ---- the pack tests ------------------------------------------------------------------------


def test_tests_file_names_this_pack_and_uses_only_known_keys() -> None:
    assert SPEC["pack"] == PACK.ref
    assert len(CASES) >= len(PACK.rules) // 2
    for t in CASES:
        assert set(t) == {"name", "case", "expect"}, t["name"]
        assert set(t["expect"]) <= set(CHECKS), (t["name"], set(t["expect"]) - set(CHECKS))


@pytest.mark.parametrize("spec", CASES, ids=[t["name"] for t in CASES])
def test_pack_test(spec: dict[str, Any]) -> None:
    decision = evaluate(spec["case"], PACK)
    for key, want in spec["expect"].items():
        CHECKS[key](decision, want)


@pytest.mark.parametrize("spec", CASES, ids=[t["name"] for t in CASES])
def test_durable_engine_agrees(spec: dict[str, Any]) -> None:
    fast = evaluate(spec["case"], PACK)
    slow = evaluate(spec["case"], PACK, engine="durable")
    assert slow.engine == "durable"
    assert slow.comparable() == fast.comparable()


def test_every_rule_is_exercised_by_a_pack_test() -> None:
    applied: set[str] = set()
    outcomes: set[str] = set()
    for spec in CASES:
        d = evaluate(spec["case"], PACK)
        applied.update(_applied(d))
        outcomes.add(d.outcome.id)
    assert [r.id for r in PACK.rules if r.id not in applied] == []
    assert [lv for lv in PACK.level_ids if lv not in outcomes] == []


# ---- what the pack-test format cannot say --------------------------------------------------


def _by_name(name: str) -> dict[str, Any]:
    return next(t["case"] for t in CASES if t["name"] == name)


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
