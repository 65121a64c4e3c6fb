"""The Stockport pack (domestic abuse protocol, 2008) against its pack tests.

Reads ``rules/stockport/2008.tests.yaml`` with ``yaml.safe_load`` and checks every expectation of
every test against ``evaluate(case, pack)`` (one small helper per ``expect`` key), and that the
durable-rules engine makes the same decision as the compiled one for every case. A few further
tests pin what the pack-test format cannot say: the source's hash and verbatim quotes, the
"immediately" deadline, the prohibitions, and that the risk facts only ever raise the outcome.

The durable-rules comparison runs in a child process: durable-rules 2.0.28 has crashed the
interpreter (segmentation fault) on some inputs, and a crash must fail the cases it hits, not
end the whole test run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dvsafeguard import Decision, evaluate, load_pack

ROOT = Path(__file__).resolve().parents[1]
TESTS_FILE = ROOT / "rules" / "stockport" / "2008.tests.yaml"
PACK = load_pack("stockport@2008")
SPEC = yaml.safe_load(TESTS_FILE.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = SPEC["tests"]
NAMES = [t["name"] for t in CASES]


# ---- one helper per expect key -------------------------------------------------------------


def _equal(key: str, got: Any, want: Any) -> None:
    assert got == want, f"{key}: expected {want!r}, decided {got!r}"


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


def _dimensions(d: Decision, want: dict[str, str]) -> None:
    for dim, value in want.items():
        assert dim in d.dimensions, f"dimension {dim} missing from the decision"
        _equal(f"dimensions.{dim}", d.dimensions[dim].value, value)


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
    "dimensions": _dimensions,
}


# ---- the pack tests ------------------------------------------------------------------------


def test_tests_file_names_this_pack_and_uses_only_known_keys() -> None:
    assert SPEC["pack"] == PACK.ref
    assert len(set(NAMES)) == len(NAMES), "test names must be unique"
    for t in CASES:
        assert set(t) == {"name", "case", "expect"}, t["name"]
        assert t["expect"], t["name"]
        assert set(t["expect"]) <= set(CHECKS), (t["name"], set(t["expect"]) - set(CHECKS))


@pytest.mark.parametrize("spec", CASES, ids=NAMES)
def test_pack_test(spec: dict[str, Any]) -> None:
    decision = evaluate(spec["case"], PACK)
    for key, want in spec["expect"].items():
        CHECKS[key](decision, want)


def test_every_rule_action_and_level_is_exercised() -> None:
    applied: set[str] = set()
    actions: set[str] = set()
    outcomes: set[str] = set()
    for spec in CASES:
        d = evaluate(spec["case"], PACK)
        applied.update(_applied(d))
        actions.update(a.id for a in d.actions)
        outcomes.add(d.outcome.id)
    assert [r.id for r in PACK.rules if r.id not in applied] == []
    assert [a.id for a in PACK.actions if a.id not in actions] == []
    assert [lv for lv in PACK.level_ids if lv not in outcomes] == []


# ---- the durable-rules engine agrees, case by case -----------------------------------------

_CHILD = r"""
import json, sys
from dvsafeguard import evaluate, load_pack
pack = load_pack(sys.argv[1])
for line in sys.stdin:
    name, case = json.loads(line)
    print(json.dumps([name, "started"]), flush=True)
    try:
        fast = evaluate(case, pack).comparable()
        slow = evaluate(case, pack, engine="durable")
        same = slow.engine == "durable" and slow.comparable() == fast
        status = "same" if same else "different decisions"
    except Exception as e:
        status = f"raised {type(e).__name__}: {e}"
    print(json.dumps([name, status]), flush=True)
"""


@pytest.fixture(scope="module")
def durable_agreement() -> dict[str, str]:
    """Test name → 'same', or what went wrong with the durable engine for that case."""
    results: dict[str, str] = {}
    pending = [(t["name"], t["case"]) for t in CASES]
    while pending:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(PACK.path)],
            input="\n".join(json.dumps(p, default=str) for p in pending) + "\n",
            capture_output=True, text=True, timeout=600, check=False,
        )
        started = None
        for line in proc.stdout.splitlines():
            name, status = json.loads(line)
            if status == "started":
                started = name
            else:
                results[name], started = status, None
        died = f"(exit {proc.returncode}) {proc.stderr[-300:]}"
        if started is not None:  # the child died inside this case
            results[started] = f"crashed the interpreter {died}"
        left = [p for p in pending if p[0] not in results]
        if len(left) == len(pending):  # no progress: never loop for ever
            for name, _ in left:
                results[name] = f"not evaluated: child process failed {died}"
        pending = [p for p in left if p[0] not in results]
    return results


@pytest.mark.parametrize("name", NAMES)
def test_durable_engine_agrees(name: str, durable_agreement: dict[str, str]) -> None:
    assert durable_agreement[name] == "same", f"durable engine: {durable_agreement[name]}"


# ---- what the pack-test format cannot say --------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()


def _by_name(name: str) -> dict[str, Any]:
    return next(t["case"] for t in CASES if t["name"] == name)


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
    case = json.loads(json.dumps(_by_name(start), default=str))
    before = evaluate(case, PACK)
    group, _, field = fact.partition(".")
    case[group] = {**case.get(group, {}), field: True}
    after = evaluate(case, PACK)
    assert after.outcome.rank >= before.outcome.rank
    assert after.bounds.lowest.rank >= before.bounds.lowest.rank


def test_decreasing_factors_are_recorded_without_changing_the_outcome() -> None:
    base = json.loads(json.dumps(_by_name(BASE), default=str))
    with_factors = {**base, "abusive_partner": {
        "aware_of_impact": True, "accepts_responsibility": True,
        "willing_to_join_programme": True, "consents_to_information_sharing": True}}
    d = evaluate(with_factors, PACK)
    assert {f.id for f in d.factors} == {"pf-aware-of-impact", "pf-accepts-responsibility",
                                          "pf-willing-programme", "pf-consents-information-sharing"}
    assert d.comparable()["outcome"] == evaluate(base, PACK).comparable()["outcome"]
    assert all(f.reading is not None and f.reading.id == "decreasing-factors-never-lower"
               for f in d.factors)
