"""The evaluator: pure, deterministic, thread-safe; both engines agree; sessions follow the facts."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import dvsafeguard as dv
from conftest import ROOT, base_case
from dvsafeguard.engine import durable


def test_decision_records_pack_version_hash_and_library(london: dv.Pack) -> None:
    d = dv.evaluate(base_case(), london)
    raw = (ROOT / "rules" / "london" / "2008-03.yaml").read_bytes()
    assert d.pack.sha256 == hashlib.sha256(raw).hexdigest()
    assert (d.pack.id, d.pack.version) == ("london", "2008-03")
    assert d.library_version == dv.__version__
    assert d.pack.source_sha256 == london.source.sha256


def test_decision_is_json_and_validates_as_a_model(london: dv.Pack) -> None:
    d = dv.evaluate(base_case(matrix=[{"scale": 2, "category": "evidence"}]), london)
    again = dv.Decision.model_validate_json(d.to_json())
    assert again.to_json() == d.to_json()
    assert again.model_dump(mode="json") == d.model_dump(mode="json")
    assert again.outcome.id == "scale_2"


def test_decisions_are_read_only(london: dv.Pack) -> None:
    # parts of decisions are shared between decisions: changing one in place must be impossible
    case = base_case(matrix=[{"scale": 1, "category": "evidence"}])
    first = dv.evaluate(case, london)
    second = dv.evaluate(case, london)
    with pytest.raises(TypeError):
        first.rules[0].facts["victim.pregnant"] = True  # type: ignore[index]
    with pytest.raises(TypeError):
        first.rules[0].sets["csc_referral"] = "required"  # type: ignore[index]
    with pytest.raises((TypeError, AttributeError)):
        first.actions[0].because.append("x")  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        first.outcome.id = "scale_4"  # type: ignore[misc]
    assert second.to_json() == dv.evaluate(case, london).to_json()
    copy = first.model_copy(deep=True)
    assert copy.to_json() == first.to_json()


def test_same_case_same_decision(london: dv.Pack) -> None:
    case = base_case(victim={"pregnant": None}, matrix=[{"scale": 1, "category": "evidence"}])
    first = dv.evaluate(case, london).to_json()
    for _ in range(5):
        assert dv.evaluate(case, london).to_json() == first


def test_no_state_survives_a_call(london: dv.Pack) -> None:
    high = base_case(victim={"pregnant": True})
    low = base_case(matrix=[{"scale": 1, "category": "evidence"}])
    for engine in ("compiled", "durable"):
        assert dv.evaluate(high, london, engine=engine).outcome.id == "scale_4"  # type: ignore[arg-type]
        assert dv.evaluate(low, london, engine=engine).outcome.id == "scale_1"  # type: ignore[arg-type]


def test_no_rule_matching_is_a_normal_outcome_in_durable(london: dv.Pack) -> None:
    d = dv.evaluate({"assessment_date": "2009-01-10", "children": [], "matrix": [],
                     "victim": {"pregnant": False, "vulnerable_adult": False}}, london, engine="durable")
    assert d.outcome.id == "insufficient_information"


CASES = [
    base_case(),
    base_case(victim={"pregnant": None}),
    base_case(children=[{"age_years": 0}], matrix=[{"scale": 3, "category": "risk_factor"}]),
    base_case(children=None, victim={"consents_to_early_help": False},
              matrix=[{"scale": 2, "category": "evidence"}]),
    base_case(children=[], assessments={"specss": "high"}, victim={"separating": True}),
    {"assessment_date": "2009-01-10"},
    base_case(victim={"staying_with_abuser": True, "children_have_contact_with_abuser": True,
                      "contact_risk_found": True}, matrix=[{"scale": 4, "category": "evidence"}]),
]


@pytest.mark.parametrize("case", CASES)
def test_compiled_and_durable_engines_agree(london: dv.Pack, case: dict[str, object]) -> None:
    a = dv.evaluate(case, london, engine="compiled")
    b = dv.evaluate(case, london, engine="durable")
    assert a.comparable() == b.comparable()
    assert (a.engine, b.engine) == ("compiled", "durable")


@pytest.mark.parametrize("engine", ["compiled", "durable"])
def test_threads_give_identical_decisions(london: dv.Pack, engine: str) -> None:
    expected = [dv.evaluate(c, london).comparable() for c in CASES]
    jobs = [CASES[i % len(CASES)] for i in range(200)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda c: dv.evaluate(c, london, engine=engine).comparable(), jobs))  # type: ignore[arg-type]
    for i, g in enumerate(got):
        assert g == expected[i % len(CASES)]


def test_pack_compiles_once(london: dv.Pack) -> None:
    assert durable(london) is durable(london)
    assert dv.load_pack("london") is dv.load_pack("london@2008-03")


def test_session_moves_up_and_down_as_facts_arrive(london: dv.Pack) -> None:
    # 9.1.5: the assessed risk may move up or down a scale as information becomes available
    start = {"assessment_date": "2009-01-10", "concerns": {"domestic_abuse_known": True}}
    with dv.AssessmentSession(london, start) as s:
        assert s.decision.outcome.id == "insufficient_information"
        assert s.decision.bounds.highest.id == "scale_4"
        assert s.set("matrix", [{"scale": 2, "category": "evidence"}]).outcome.id == "scale_2"
        assert s.set("victim.pregnant", True).outcome.id == "scale_4"
        assert s.decision.outcome.id == "scale_4"
        d = s.set("victim.pregnant", False)
        assert d.outcome.id == "scale_2"
        assert [h.outcome.id for h in s.history] == [
            "insufficient_information", "scale_2", "scale_4", "scale_2"]
        # every step equals a fresh stateless evaluation of the same facts
        assert d.comparable() == dv.evaluate(s.case, london).comparable()


def test_session_refuses_bad_fact_and_keeps_state(london: dv.Pack) -> None:
    with dv.AssessmentSession(london, {"assessment_date": "2009-01-10"}) as s:
        s.set("assessments.specss", "medium")
        with pytest.raises(dv.InputError, match="assessments.specss"):
            s.set("assessments.specss", "severe")
        assert s.decision.outcome.id == "scale_2"
        assert s.case.assessments.specss == "medium"


def test_two_sessions_are_isolated(london: dv.Pack) -> None:
    start = {"assessment_date": "2009-01-10", "concerns": {"domestic_abuse_known": True}}
    a = dv.AssessmentSession(london, start)
    b = dv.AssessmentSession(london, start)
    a.set("victim.pregnant", True)
    b.set("assessments.specss", "standard")
    assert (a.decision.outcome.id, b.decision.outcome.id) == ("scale_4", "scale_1")
    a.close()
    b.close()


def test_engine_error_names_the_pack_rule(tmp_path: Path, london: dv.Pack) -> None:
    from durable.engine import Host

    from dvsafeguard.engine import DurablePack

    broken = {"r#T": {"all": [{"m": {"$iany": {"x": 1}}}], "run": lambda c: None}}
    name = DurablePack._first_failing(broken)
    assert name == "r"
    Host()  # the probe used its own host; a fresh one still works


def _within(dim: str, before: dv.Decision, after: dv.Decision) -> bool:
    from dvsafeguard.pack import DIMENSIONS

    order, b = DIMENSIONS[dim], before.dimensions[dim]
    return order.index(b.lowest) <= order.index(after.dimensions[dim].value) <= order.index(b.highest)


@pytest.mark.parametrize(("pack", "case", "learnt", "dim", "bounds"), [
    # scale 1 requires early help; a SPECSS assessment not yet known could raise the scale and
    # replace it (9.4.2 → 9.5.2), so early help is not certain
    ("london", {"assessment_date": "2008-06-02", "children": [{"age_years": 9, "in_household": True}],
                "children_complete": True, "matrix": [{"scale": 1, "category": "evidence"}]},
     {"assessments": {"specss": "high"}}, "early_help", ("not_indicated", "required", "required")),
    ("llr", {"assessment_date": "2010-06-16", "children": [{"age_years": 8, "in_household": True}],
             "children_complete": True, "concerns": {"domestic_abuse_known": True}},
     {"concerns": {"domestic_abuse_known": True, "significant_harm_suspected": True}}, "early_help",
     ("not_indicated", "required", "required")),
    # a child whose household is unknown keeps the children's actions, but learning that no child
    # lives in or visits the household (and no pregnancy) could still remove them
    ("solihull", {"assessment_date": "2021-03-01", "children": [{"age_years": 4}], "children_complete": True,
                  "victim": {"pregnant": False}, "concerns": {"domestic_abuse_known": True}},
     {"children": [{"age_years": 4, "in_household": False, "regularly_visits": False}]}, "csc_referral",
     ("not_required", "consider", "required")),
])
def test_dimension_bounds_hold_when_the_outcome_or_a_confirmation_can_still_change(
        pack: str, case: dict[str, object], learnt: dict[str, object], dim: str,
        bounds: tuple[str, str, str]) -> None:
    before = dv.evaluate(case, pack)
    v = before.dimensions[dim]
    assert (v.lowest, v.value, v.highest) == bounds
    after = dv.evaluate({**case, **learnt}, pack)
    assert after.dimensions[dim].value != v.value and _within(dim, before, after)


def test_actions_an_open_confirmation_could_require_are_possible_actions() -> None:
    # the children are not known: confirming there are none would require the 9.6.1 actions
    d = dv.evaluate({"assessment_date": "2009-01-10", "victim": {"pregnant": False}}, "london")
    possible = {a.id: a for a in d.possible_actions}
    for action in ("establish-vulnerable-adult", "matrix-for-woman", "refer-woman-dv-agency"):
        assert action in possible and "children" in possible[action].if_known
    assert {a.id for a in d.actions}.isdisjoint(possible)
    confirmed = dv.evaluate({"assessment_date": "2009-01-10", "victim": {"pregnant": False}, "children": []},
                            "london")
    assert {"establish-vulnerable-adult", "matrix-for-woman", "refer-woman-dv-agency"} <= {
        a.id for a in confirmed.actions}
    # once children are known to live there, 9.6.1 can no longer apply
    kids = dv.evaluate({"assessment_date": "2009-01-10", "victim": {"pregnant": False},
                        "children": [{"age_years": 5, "in_household": True}]}, "london")
    assert "establish-vulnerable-adult" not in {a.id for a in kids.possible_actions}
