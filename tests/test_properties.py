"""Property tests: the hypothesis strategies, the built-in checks on every pack under rules/, and
that the checks catch deliberately broken packs with a counterexample ready to paste."""

from __future__ import annotations

import copy
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from dvsafeguard import Case, evaluate, load_pack
from dvsafeguard.cli import main
from dvsafeguard.conditions import months_before
from dvsafeguard.derive import DERIVED, case_facts, child_age_months
from dvsafeguard.errors import InputError
from dvsafeguard.pack import Pack, pack_files, rules_dir
from dvsafeguard.packtest import run_file
from dvsafeguard.testing import (
    CHECKS,
    case_data,
    cases,
    check_pack,
    holds,
    refine,
)

LONDON_FILE = rules_dir() / "london" / "2008-03.yaml"
LONDON = load_pack(LONDON_FILE)
PACKS = pack_files()
SETTINGS = settings(max_examples=100, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _get(case: Case, path: str) -> Any:
    node: Any = case
    for part in path.split("."):
        node = getattr(node, part)
    return node


# ---------------------------------------------------------------------------- the strategies


@SETTINGS
@given(cases(LONDON))
def test_generated_cases_are_valid_and_survive_a_round_trip(case: Case) -> None:
    assert Case.model_validate(case.model_dump()) == case
    for child in case.children or []:
        if child.date_of_birth is not None:
            assert child.date_of_birth <= case.assessment_date


@SETTINGS
@given(st.data())
def test_refine_resolves_unknowns_and_changes_nothing_known(data: st.DataObject) -> None:
    case = data.draw(cases(LONDON), label="case")
    refined = data.draw(refine(case, LONDON), label="refined")
    assert refined.assessment_date == case.assessment_date
    for path, info in case_facts().items():
        if path in DERIVED or info.kind not in ("bool", "enum", "number"):
            continue
        before = _get(case, path)
        if before is not None:
            assert _get(refined, path) == before, path
    assert case.matrix is None or refined.matrix == case.matrix
    for name in ("children", "incidents"):
        old, new = getattr(case, name), getattr(refined, name)
        if old is None:
            continue
        assert new is not None and len(new) >= len(old)
        if getattr(case, f"{name}_complete") is True or (name == "children" and old == []):
            assert len(new) == len(old), f"{name} was complete"
        for a, b in zip(old, new, strict=False):
            for key, value in a.model_dump().items():
                if value is not None and key != "young_persons_dash_completed":
                    assert getattr(b, key) == value, f"{name}.{key}"


def _age(case: Case) -> float | None:
    iv = child_age_months(case.children[0], case.assessment_date) if case.children else None
    return None if iv is None or iv[0] != iv[1] else iv[0]


@pytest.mark.parametrize("months", [11, 12, 83, 84])
def test_cases_reach_the_12_month_and_7_year_edges_by_date_of_birth(months: int) -> None:
    def at_age(c: Case) -> bool:
        return bool(c.children) and c.children[0].date_of_birth is not None and _age(c) == months

    found = find(cases(LONDON), at_age,
                 settings=settings(max_examples=2000, database=None, deadline=None))
    assert found.children is not None and found.children[0].date_of_birth is not None


def test_cases_reach_the_12_month_incident_window_edge() -> None:
    def at_edge(c: Case) -> bool:
        edge = months_before(c.assessment_date, 12)
        days = {(i.date - edge).days for i in c.incidents or [] if i.date is not None}
        return {-1, 0} <= days

    found = find(cases(LONDON), at_edge,
                 settings=settings(max_examples=3000, database=None, deadline=None))
    assert found.incidents


# ---------------------------------------------------------------------------- London, directly


@SETTINGS
@given(cases(LONDON))
def test_london_compiled_and_durable_engines_agree(case: Case) -> None:
    compiled = evaluate(case, LONDON, engine="compiled")
    durable = evaluate(case, LONDON, engine="durable")
    assert compiled.comparable() == durable.comparable()
    assert evaluate(case, LONDON).comparable() == compiled.comparable()


@SETTINGS
@given(st.data())
def test_london_resolving_unknowns_stays_within_the_bounds(data: st.DataObject) -> None:
    case = data.draw(cases(LONDON), label="case")
    refined = data.draw(refine(case, LONDON), label="refined")
    before, after = evaluate(case, LONDON), evaluate(refined, LONDON)
    assert before.bounds.lowest.rank <= after.outcome.rank <= before.bounds.highest.rank
    assert before.outcome.rank <= after.outcome.rank  # unknowns never lower the outcome


@SETTINGS
@given(cases(LONDON), st.sampled_from([f for f in LONDON.risk_facts if f not in DERIVED]))
def test_london_a_risk_fact_becoming_true_never_lowers_the_outcome(case: Case, path: str) -> None:
    group, name = path.split(".")
    if getattr(getattr(case, group), name) is True:
        return
    data = case.model_dump()
    data[group][name] = True
    raised = Case.model_validate(data)
    assert evaluate(raised, LONDON).outcome.rank >= evaluate(case, LONDON).outcome.rank


@SETTINGS
@given(cases(LONDON))
def test_london_declared_invariants(case: Case) -> None:
    d = evaluate(case, LONDON)
    for inv in LONDON.invariants:
        if holds(LONDON, inv.given, case) is True:
            if inv.outcome_at_least:
                assert d.outcome.rank >= LONDON.rank(inv.outcome_at_least), inv.id
            if inv.outcome_at_most:
                assert d.outcome.rank <= LONDON.rank(inv.outcome_at_most), inv.id


# ---------------------------------------------------------------------------- every pack


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("path", PACKS, ids=[f"{p.parent.name}@{p.stem}" for p in PACKS])
def test_every_pack_passes_the_built_in_checks(path: Path, check: str) -> None:
    report = check_pack(path, max_examples=100, checks=[check])
    assert report.results, f"{check} ran nothing"
    assert report.ok, report.format()


def test_london_report_lists_every_check_and_invariant() -> None:
    report = check_pack(LONDON, max_examples=30)
    names = [r.check for r in report.results]
    assert names == ["monotone", "bounds", "deterministic", "engines",
                     "invariant baby-always-scale-4", "invariant specss-high-at-least-3",
                     "reachable"]
    assert report.ok, report.format()
    assert set(report.result("reachable").witnesses) == (
        {f"rule {r.id}" for r in LONDON.rules} | {f"level {lv}" for lv in LONDON.level_ids})
    assert "all passed" in report.format()


# ---------------------------------------------------------------------------- broken packs


def _london_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(LONDON_FILE.read_text(encoding="utf-8"))
    return data


def _write_pack(tmp_path: Path, data: dict[str, Any]) -> Path:
    """A modified London pack (a test fixture, never a procedure) in tmp_path/rules/london."""
    path = tmp_path / "rules" / "london" / "2008-03.yaml"
    path.parent.mkdir(parents=True)

    class NoAliases(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    path.write_text(yaml.dump(data, Dumper=NoAliases, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    return path


def _with_rule(tmp_path: Path, rule: dict[str, Any]) -> Pack:
    data = _london_data()
    data["rules"].append({"id": "deliberately-wrong", "title": "a deliberately wrong rule",
                          "citation": copy.deepcopy(data["rules"][0]["citation"]), **rule})
    return load_pack(_write_pack(tmp_path, data))


def test_london_without_9_3_1_fails_its_invariant_with_a_counterexample_to_paste(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _london_data()
    data["rules"] = [r for r in data["rules"] if r["id"] != "baby-under-12-months"]
    path = _write_pack(tmp_path, data)
    broken = load_pack(path)

    report = check_pack(broken, max_examples=100, checks=["invariants"], derandomize=True)
    failed = report.result("invariant baby-always-scale-4")
    assert not failed.ok
    assert "outcome must be at least scale_4" in failed.message
    assert report.result("invariant specss-high-at-least-3").ok
    (cx,) = failed.counterexamples
    # shrunk: the baby (or pregnancy) and domestic abuse known, little else
    assert holds(LONDON, LONDON.invariants[0].given, cx.case) is True
    assert "matrix" not in case_data(cx.case) and "assessments" not in case_data(cx.case)
    block = cx.yaml()
    assert "- name: 'invariant baby-always-scale-4: outcome at least scale_4'" in block
    assert "    expect:\n      outcome: scale_4" in block
    shown = report.format()
    assert all(line.strip() in shown for line in block.splitlines())

    # pasted under `tests:` it is a pack test that fails on the broken pack...
    tests = path.with_name("2008-03.tests.yaml")
    tests.write_text("tests:\n" + block, encoding="utf-8")
    (result,) = run_file(tests).results
    assert not result.passed
    assert result.mismatches[0].key == "outcome"
    # ...and passes on the real London pack
    good = tmp_path / "good" / "london"
    good.mkdir(parents=True)
    shutil.copy(LONDON_FILE, good / "2008-03.yaml")
    (good / "2008-03.tests.yaml").write_text("tests:\n" + block, encoding="utf-8")
    (result,) = run_file(good / "2008-03.tests.yaml").results
    assert result.passed, result.report()

    # the CLI prints the same counterexample and exits non-zero
    tests.unlink()
    assert main(["test", "--properties", "--max-examples", "60", str(path.parent.parent)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  invariant baby-always-scale-4" in out
    assert "counterexample (paste under `tests:`" in out
    assert "    expect:\n" in out


def test_a_rule_that_lowers_on_a_risk_fact_fails_monotone(tmp_path: Path) -> None:
    pack = _with_rule(tmp_path, {"when": {"fact": "victim.vulnerable_adult", "is": False},
                                 "outcome": "scale_4"})
    result = check_pack(pack, max_examples=100, checks=["monotone"]).result("monotone")
    assert not result.ok
    assert "setting victim.vulnerable_adult from false to true lowered" in result.message
    before, after = result.counterexamples
    assert before.case.victim.vulnerable_adult is False
    assert after.case.victim.vulnerable_adult is True
    assert evaluate(after.case, pack).outcome.rank < evaluate(before.case, pack).outcome.rank


def test_an_outcome_rule_on_an_epistemic_fact_is_refused(tmp_path: Path) -> None:
    # 'not confirmed that there are no children' is false, not unknown, while children are
    # unknown: used for an outcome, learning that there are none would lower the outcome below
    # its reported bounds — so such a pack does not load at all
    with pytest.raises(InputError, match="may not set the outcome"):
        _with_rule(tmp_path, {"when": {"fact": "derived.no_children_confirmed", "is": False},
                              "outcome": "scale_2"})


def test_an_impossible_rule_is_reported_unreachable(tmp_path: Path) -> None:
    pack = _with_rule(tmp_path, {"when": {"all": [{"fact": "victim.pregnant", "is": True},
                                                  {"fact": "victim.pregnant", "is": False}]},
                                 "outcome": "scale_2"})
    result = check_pack(pack, max_examples=30, checks=["reachable"]).result("reachable")
    assert not result.ok
    assert result.message.endswith("for: rule deliberately-wrong")
    assert "rule baby-under-12-months" in result.witnesses


def test_an_invariant_whose_given_never_holds_is_not_a_pass(tmp_path: Path) -> None:
    data = _london_data()
    data["invariants"].append({"id": "never", "description": "cannot hold",
                               "given": {"all": [{"fact": "victim.pregnant", "is": True},
                                                 {"fact": "victim.pregnant", "is": False}]},
                               "outcome_at_least": "scale_1"})
    pack = load_pack(_write_pack(tmp_path, data))
    result = check_pack(pack, max_examples=30, checks=["invariants"]).result("invariant never")
    assert not result.ok
    assert "never held" in result.message


def test_unknown_check_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown check"):
        check_pack(LONDON, checks=["monotonic"])


def test_counterexample_dates_are_plain_yaml_dates() -> None:
    from dvsafeguard.testing import pack_test_yaml

    case = Case.model_validate({"assessment_date": "2009-01-10",
                                "children": [{"date_of_birth": date(2008, 6, 1)}],
                                "victim": {"pregnant": None}})
    block = pack_test_yaml("a name", case, {"outcome": "scale_4"}, "why\nit matters")
    assert block.splitlines()[:2] == ["  # why", "  # it matters"]
    loaded = yaml.safe_load(block)
    assert loaded == [{"name": "a name",
                       "case": {"assessment_date": date(2009, 1, 10),
                                "children": [{"date_of_birth": date(2008, 6, 1)}]},
                       "expect": {"outcome": "scale_4"}}]


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_cases_are_assessed_while_the_pack_is_in_force(data: st.DataObject) -> None:
    for ref in ("london", "stoke-staffordshire", "llr"):
        pack = load_pack(ref)
        case = data.draw(cases(pack))
        assert case.assessment_date >= pack.in_force.from_
        assert pack.in_force.to is None or case.assessment_date <= pack.in_force.to
        assert evaluate(case, pack).in_force
