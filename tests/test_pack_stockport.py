"""The Stockport pack (domestic abuse protocol, 2008): what its pack tests cannot say.

Every case of ``rules/stockport/2008.tests.yaml`` is checked on both engines, for agreement
between them and for coverage of every rule, action and level, by ``tests/test_shipped_packs.py``
and the pytest plugin. These tests pin the rest: the "immediately" deadline, the prohibitions,
that no deadline is invented, that the risk facts only ever raise the outcome, and that the
decreasing factors are recorded without changing it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dvsafeguard import evaluate, load_pack
from dvsafeguard.packtest import load_tests

ROOT = Path(__file__).resolve().parents[1]
TESTS_FILE = ROOT / "rules" / "stockport" / "2008.tests.yaml"
PACK = load_pack("stockport@2008")
LOADED = load_tests(TESTS_FILE)


def _by_name(name: str) -> dict[str, Any]:
    """The case of the pack test called ``name``, as a fresh mapping (safe to change)."""
    test = next(t for t in LOADED.tests if t.name == name)
    return test.case.model_dump(mode="json", exclude_unset=True)


def test_tests_file_names_this_pack_and_every_test_expects_something() -> None:
    assert LOADED.pack.ref == PACK.ref
    for t in LOADED.tests:
        assert t.expect.model_dump(exclude_none=True), t.name


def test_child_protection_plan_key_worker_is_informed_immediately() -> None:
    d = evaluate(_by_name("a Child Protection Plan means a referral and informing the key worker "
                          "immediately"), PACK)
    inform = next(a for a in d.actions if a.id == "inform-key-worker-immediately")
    assert inform.kind == "should"  # printed "should be informed immediately"
    assert inform.deadline is not None and inform.deadline.kind == "immediately"
    refer = next(a for a in d.actions if a.id == "refer-csc-screening")
    assert refer.kind == "must" and refer.deadline is None


def test_prohibitions_are_must_not() -> None:
    for action_id in ("no-caf", "no-standard-letters", "no-refuge-address",
                      "hbv-disclosure-kept-from-family", "hbv-no-family-or-community-approach",
                      "hbv-no-community-interpreters", "safety-plan-only-if-safe"):
        assert PACK.action(action_id).kind == "must_not", action_id


def test_no_deadline_is_invented() -> None:
    timed = {a.id: a.deadline.kind for a in PACK.actions if a.deadline is not None}
    assert timed == {"inform-key-worker-immediately": "immediately"}


BASE = "every screening fact known and none applies is no referral indicated, settled"
NOTHING = "nothing known is no referral yet, with a required referral still reachable"


@pytest.mark.parametrize("start", [BASE, NOTHING])
@pytest.mark.parametrize("fact", [f for f in PACK.risk_facts if not f.startswith("derived.")])
def test_a_risk_fact_becoming_true_never_lowers_the_outcome(fact: str, start: str) -> None:
    case = _by_name(start)
    before = evaluate(case, PACK)
    group, _, field = fact.partition(".")
    case[group] = {**case.get(group, {}), field: True}
    after = evaluate(case, PACK)
    assert after.outcome.rank >= before.outcome.rank
    assert after.bounds.lowest.rank >= before.bounds.lowest.rank


def test_decreasing_factors_are_recorded_without_changing_the_outcome() -> None:
    base = _by_name(BASE)
    with_factors = {**base, "abusive_partner": {
        "aware_of_impact": True, "accepts_responsibility": True,
        "willing_to_join_programme": True, "consents_to_information_sharing": True}}
    d = evaluate(with_factors, PACK)
    assert {f.id for f in d.factors} == {"pf-aware-of-impact", "pf-accepts-responsibility",
                                          "pf-willing-programme", "pf-consents-information-sharing"}
    assert d.comparable()["outcome"] == evaluate(base, PACK).comparable()["outcome"]
    assert all(f.reading is not None and f.reading.id == "decreasing-factors-never-lower"
               for f in d.factors)
