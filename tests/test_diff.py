"""`dvsafeguard diff`: structural and outcome differences between two packs.

Fixtures (tests/fixtures/, marked "TEST FIXTURE — not a procedure", never under rules/):
* london-without-9-3-1.yaml — London 2008 with the 9.3.1 rule (and its action, note, invariant)
  removed: the outcome diff must report exactly the 9.3.1 cases.
* london-reworded.yaml — London 2008 in other words (titles, quotes, a renamed rule, conditions
  written differently with the same meaning): structural changes, no outcome difference.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import math
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dvsafeguard as dv
from dvsafeguard import diff as dvdiff
from dvsafeguard.cli import main
from dvsafeguard.conditions import months_before as dv_months_before
from dvsafeguard.diff import PackDiff, diff_packs, facts_set, render
from dvsafeguard.errors import InputError
from dvsafeguard.pack import Pack, pack_files, pack_from_data, rules_dir

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WITHOUT_931 = FIXTURES / "london-without-9-3-1.yaml"
REWORDED = FIXTURES / "london-reworded.yaml"
LEVELS_BELOW_4 = {"insufficient_information", "scale_1", "scale_2", "scale_3"}


@pytest.fixture(scope="module")
def without_931() -> PackDiff:
    return diff_packs("london@2008-03", WITHOUT_931)


@pytest.fixture(scope="module")
def reworded() -> PackDiff:
    return diff_packs("london@2008-03", REWORDED)


def _has_baby(case: dict[str, Any]) -> bool:
    """The case records a pregnancy, an unborn child or a child under 12 months."""
    if case.get("victim", {}).get("pregnant") is True:
        return True
    for child in case.get("children") or []:
        if child.get("unborn") is True or (child.get("age_months") is not None and child["age_months"] < 12):
            return True
        if child.get("age_years") == 0:
            return True
    return False


# --------------------------------------------------------------------------------------------
# Fixtures are marked and never shipped
# --------------------------------------------------------------------------------------------


def test_fixture_packs_are_made_from_the_current_london_pack() -> None:
    spec = importlib.util.spec_from_file_location("make_london_fixtures", FIXTURES / "make_london_fixtures.py")
    assert spec is not None and spec.loader is not None
    make_london_fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_london_fixtures)
    london = (rules_dir() / "london" / "2008-03.yaml").read_text(encoding="utf-8")
    for path, make in ((WITHOUT_931, make_london_fixtures.without_931),
                       (REWORDED, make_london_fixtures.reworded)):
        assert path.read_text(encoding="utf-8") == make(london), (
            f"{path.name} is out of date with rules/london/2008-03.yaml: "
            "run .venv/bin/python tests/fixtures/make_london_fixtures.py")


@pytest.mark.parametrize("path", [WITHOUT_931, REWORDED])
def test_fixture_packs_are_marked_and_not_shipped(path: Path) -> None:
    assert path.read_text(encoding="utf-8").startswith("# TEST FIXTURE — not a procedure")
    pack = dv.load_pack(path)
    assert "TEST FIXTURE" in pack.title and "fixture" in pack.version
    assert path.resolve() not in [p.resolve() for p in pack_files()]
    assert rules_dir().resolve() not in path.resolve().parents


# --------------------------------------------------------------------------------------------
# London vs London without 9.3.1
# --------------------------------------------------------------------------------------------


def test_structural_diff_reports_exactly_the_931_removals(without_931: PackDiff) -> None:
    changes = {(c.section, c.change, c.id) for c in without_931.structural.changes}
    assert changes == {
        ("metadata", "changed", "london"),
        ("rule", "removed", "baby-under-12-months"),
        ("action", "removed", "refer-csc-9-3-1"),
        ("note", "removed", "dv-present-for-9-3-1"),
        ("invariant", "removed", "baby-always-scale-4"),
        ("citation", "removed", "9.3.1"),
    }
    meta = without_931.structural.of("metadata")[0]
    assert {f.field for f in meta.fields} == {"title", "version"}
    rule = without_931.structural.of("rule", "removed")[0]
    assert rule.paragraph == "9.3.1"


def test_outcome_diff_is_exactly_the_931_cells(without_931: PackDiff) -> None:
    d = without_931
    assert d.same_ladder and d.search.exhaustive
    assert {(c.a, c.b) for c in d.outcomes} == {("scale_4", lv) for lv in LEVELS_BELOW_4}
    for cell in d.outcomes:
        assert cell.cases > 0 and 0 < cell.share < 1
        assert [r.id for r in cell.witness.a.established_by] == ["baby-under-12-months"]
        assert cell.witness.a.established_by[0].paragraph == "9.3.1"
        assert cell.witness.b.outcome == cell.b
        assert _has_baby(cell.witness.case), cell.witness.case
    # the headline witness is the smallest family 9.3.1 treats differently
    headline = next(c for c in d.outcomes if c.b == "insufficient_information")
    assert headline.witness.facts_set == 2
    assert headline.witness.case == {
        "assessment_date": d.search.assessment_date.isoformat(),
        "victim": {"pregnant": True},
        "concerns": {"domestic_abuse_known": True},
    }
    assert headline.witness.b.by_default


def test_every_witness_is_a_931_case_and_evaluates_to_its_cell(without_931: PackDiff) -> None:
    d = without_931
    assert d.dimensions and d.actions
    for cell in d.cells:
        case = cell.witness.case
        da, db = dv.evaluate(case, "london@2008-03"), dv.evaluate(case, WITHOUT_931)
        if cell.kind == "outcome":
            assert (da.outcome.id, db.outcome.id) == (cell.a, cell.b)
        elif cell.kind == "dimension":
            assert (da.dimensions[cell.subject].value, db.dimensions[cell.subject].value) == (cell.a, cell.b)
        else:
            got = ({x.id for x in da.actions}, {x.id for x in db.actions})
            assert ("required" if cell.subject in got[0] else "not required") == cell.a
            assert ("required" if cell.subject in got[1] else "not required") == cell.b
        assert _has_baby(case), (cell.kind, cell.subject, case)
        assert "baby-under-12-months" in [r.id for r in da.rules]
        assert facts_set(dv.Case.model_validate(case)) == cell.witness.facts_set
    removed = next(c for c in d.actions if c.subject == "refer-csc-9-3-1")
    assert (removed.a, removed.b) == ("required", "not required") and removed.paragraph_a == "9.3.1"
    csc = {(c.a, c.b) for c in d.dimensions if c.subject == "csc_referral"}
    assert csc == {("required", "not_required")}


_TRI = st.sampled_from([None, True, False])


@st.composite
def london_cases(draw: st.DrawFn) -> dict[str, Any]:
    """Arbitrary London cases: more children, ages and incidents than the diff's own search."""
    child = st.fixed_dictionaries({}, optional={
        "age_months": st.integers(0, 215), "unborn": st.just(True), "in_household": _TRI,
        "special_needs": _TRI, "abusing_family_members": _TRI,
    }).filter(lambda c: not (c.get("unborn") and "age_months" in c))
    incident = st.fixed_dictionaries({}, optional={
        "date": st.dates(date(2005, 1, 1), date(2008, 3, 1)),
        "severity": st.sampled_from(["serious", "lesser"]),
    })
    tick = st.fixed_dictionaries({"scale": st.integers(1, 4),
                                  "category": st.sampled_from(["evidence", "risk_factor", "protective_factor"])})
    case: dict[str, Any] = {"assessment_date": date(2008, 3, 1)}
    for name, strat in (("children", child), ("incidents", incident), ("matrix", tick)):
        items = draw(st.none() | st.lists(strat, max_size=3))
        if items is not None:
            case[name] = items
    for flag in ("children_complete", "incidents_complete"):
        value = draw(_TRI)
        if value is not None and not (flag == "children_complete" and case.get("children") == [] and not value):
            case[flag] = value
    groups = {
        "victim": ["pregnant", "consents_to_early_help", "special_needs", "minority_community",
                   "vulnerable_adult", "staying_with_abuser", "separating",
                   "children_have_contact_with_abuser", "contact_risk_found"],
        "abusive_partner": ["willing_to_join_programme"],
        "assessments": ["marac_referred"],
        "concerns": ["domestic_abuse_known", "child_to_parent_abuse"],
    }
    for group, names in groups.items():
        values = {n: v for n in names if (v := draw(_TRI)) is not None}
        if values:
            case[group] = values
    specss = draw(st.sampled_from([None, "standard", "medium", "high"]))
    if specss:
        case.setdefault("assessments", {})["specss"] = specss
    return case


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=london_cases())
def test_diff_is_complete_against_arbitrary_cases(without_931: PackDiff, case: dict[str, Any]) -> None:
    """Every difference an arbitrary case shows is one the exhaustive diff reported, and only
    9.3.1 cases differ."""
    da, db = dv.evaluate(case, "london@2008-03"), dv.evaluate(case, WITHOUT_931)
    cells = {(c.kind, c.subject, c.a, c.b) for c in without_931.cells}
    if da.outcome.id != db.outcome.id:
        assert ("outcome", "outcome", da.outcome.id, db.outcome.id) in cells
        assert "baby-under-12-months" in [r.id for r in da.rules]
    for dim, value in da.dimensions.items():
        if value.value != db.dimensions[dim].value:
            assert ("dimension", dim, value.value, db.dimensions[dim].value) in cells
    actions_a, actions_b = {x.id for x in da.actions}, {x.id for x in db.actions}
    for x in actions_a ^ actions_b:
        pair = ("required", "not required") if x in actions_a else ("not required", "required")
        assert ("action", x, *pair) in cells
    if (da.outcome.id, {k: v.value for k, v in da.dimensions.items()}, actions_a) != (
            db.outcome.id, {k: v.value for k, v in db.dimensions.items()}, actions_b):
        possible = [r.id for r in da.rules] + [r for u in da.unknowns for r in u.rules]
        assert "baby-under-12-months" in possible


# --------------------------------------------------------------------------------------------
# Same outcomes, different words
# --------------------------------------------------------------------------------------------


def test_reworded_pack_differs_in_structure_but_not_in_outcome(reworded: PackDiff) -> None:
    d = reworded
    assert d.search.exhaustive
    assert d.outcomes == [] and d.dimensions == [] and d.actions == []
    by_key = {(c.section, c.id): c for c in d.structural.changes}
    renamed = by_key[("rule", "specss-high")]
    assert (renamed.change, renamed.id_b, renamed.matched_by) == ("changed", "police-risk-high", "citation")
    baby = by_key[("rule", "baby-under-12-months")]
    assert {f.field for f in baby.fields} == {"title", "citation", "when"}
    medium = by_key[("rule", "specss-medium")]
    assert [(f.field, f.a, f.b) for f in medium.fields] == [
        ("when", {"fact": "assessments.specss", "is": "medium"},
         {"fact": "assessments.specss", "in": ["medium"]})]
    assert {f.field for f in by_key[("ladder", "scale_4")].fields} == {"label", "citation"}
    assert [f.field for f in by_key[("action", "refer-csc-9-3-1")].fields] == ["text"]
    assert [f.field for f in by_key[("note", "dv-present-for-9-3-1")].fields] == ["text"]
    assert {c.id for c in d.structural.of("citation", "changed")} == {"9.3.1", "9.5.4"}
    assert not [c for c in d.structural.changes if c.change in ("added", "removed")]
    assert "No case is decided differently in the searched space." in render(d, "text")


def test_identical_packs_have_no_difference() -> None:
    d = diff_packs("london@2008-03", "london@2008-03")
    assert not d.differs and d.structural.changes == [] and d.cells == []


# --------------------------------------------------------------------------------------------
# Across boards: through the shared dimensions
# --------------------------------------------------------------------------------------------


def _other_boards() -> list[Path]:
    return [p for p in pack_files() if p.parent.name != "london"]


def test_cross_board_diffs_compare_shared_dimensions_with_checkable_witnesses() -> None:
    others = _other_boards()
    assert others, "no second board's pack under rules/ to diff London against"
    london = dv.load_pack("london@2008-03")
    found = 0
    for path in others:
        other = dv.load_pack(path)
        d = diff_packs(london, other)
        shared = [x for x in london.dimensions if x in other.dimensions]
        assert not d.same_ladder and d.outcomes == [] and d.actions == []
        assert d.search.compared == [f"dimension:{x}" for x in shared]
        assert d.search.exhaustive, (path, d.search.groups)
        for cell in d.dimensions:
            found += 1
            da, db = dv.evaluate(cell.witness.case, london), dv.evaluate(cell.witness.case, other)
            assert (da.dimensions[cell.subject].value, db.dimensions[cell.subject].value) == (cell.a, cell.b)
            # the side that sets the dimension names the rules and paragraphs that set it
            for summary, value, pack in ((cell.witness.a, cell.a, london), (cell.witness.b, cell.b, other)):
                ref = summary.dimensions[cell.subject]
                if value != "not_required" and value != "not_indicated":
                    assert ref.because and ref.paragraphs
                    for rule_id, para in zip(ref.because, ref.paragraphs, strict=True):
                        assert pack.rule(rule_id).citation.paragraph == para
        text = render(d, "text")
        assert "outcomes are compared through the shared dimensions only" in text
    assert found > 0


def test_dimension_option_restricts_the_comparison() -> None:
    other = _other_boards()[0]
    d = diff_packs("london@2008-03", other, dimensions=["csc_referral"])
    assert d.search.compared == ["dimension:csc_referral"]
    assert {c.subject for c in d.dimensions} <= {"csc_referral"}
    with pytest.raises(InputError, match="max_cases"):
        diff_packs("london@2008-03", other, max_cases=0)


# --------------------------------------------------------------------------------------------
# The search itself: counts and minimal witnesses against brute force
# --------------------------------------------------------------------------------------------


def _synthetic_pair(grouping: bool = False) -> tuple[Pack, Pack]:
    """Two small packs (synthetic, built here, not procedures) exercising every kind of fact the
    search represents: children ages, a completeness flag, dated incidents with a window and a
    count threshold, an enumerated and a numeric fact, outcome-dependent actions, dimensions."""
    base = yaml.safe_load((rules_dir() / "london" / "2008-03.yaml").read_text(encoding="utf-8"))
    cite = {"paragraph": "9.3.1", "quote": "synthetic test rule"}
    base.update(id="synthetic", notes=[], invariants=[], risk_facts=[],
                actions=[{"id": "act-x", "text": "X", "kind": "should", "citation": cite},
                         {"id": "act-y", "text": "Y", "kind": "must", "citation": cite},
                         {"id": "act-z", "text": "Z", "kind": "should", "citation": cite},
                         {"id": "act-w", "text": "W", "kind": "consider", "citation": cite},
                         {"id": "act-v", "text": "V", "kind": "should", "citation": cite}])
    under = {"any": [{"fact": "unborn", "is": True}, {"fact": "age_months", "lt": 12}]}

    def rules(months: int, count: int, triage: int, level: str) -> list[dict[str, Any]]:
        return [
            {"id": "baby", "title": "baby", "citation": cite, "outcome": "scale_4",
             "sets": {"csc_referral": "required"},
             "when": {"all": [{"count": "children", "where": under, "at_least": 1},
                              {"fact": "concerns.domestic_abuse_known", "is": True}]}},
            {"id": "specss", "title": "specss", "citation": cite, "outcome": "scale_3",
             "when": {"fact": "assessments.specss", "is": "high"}},
            {"id": "serious", "title": "serious", "citation": cite, "outcome": "scale_2",
             "when": {"count": "incidents", "within_months": months,
                      "where": {"fact": "severity", "is": "serious"}, "at_least": 1}},
            {"id": "many", "title": "many", "citation": cite, "outcome": "scale_3",
             "when": {"fact": "derived.incidents_last_12_months", "gte": count}},
            {"id": "triage", "title": "triage", "citation": cite, "outcome": "scale_1",
             "when": {"fact": "assessments.police_triage_level", "gte": triage}},
            {"id": "household", "title": "household", "citation": cite, "actions": ["act-x"],
             "sets": {"marac": "consider"},
             "when": {"all": [{"count": "children", "where": {"fact": "in_household", "is": True},
                               "at_least": 1}, {"outcome": {"at_least": level}}]}},
            {"id": "none", "title": "none", "citation": cite, "actions": ["act-y"],
             "when": {"all": [{"fact": "derived.no_children_confirmed", "is": True},
                              {"count": "children", "where": under, "at_most": 0}]}},
        ]

    born_baby = {"id": "born-baby", "title": "born baby", "citation": cite, "actions": ["act-z"],
                 "when": {"count": "children", "at_least": 1, "where": {
                     "all": [{"fact": "unborn", "is": False}, {"fact": "age_months", "lt": 12}]}}}
    recent = {"id": "recent", "title": "recent", "citation": cite, "actions": ["act-w"],
              "when": {"count": "incidents", "within_months": 6, "at_least": 1}}
    # facts read only inside one `any` (searched through its truth), and an `any` rule that the
    # search splits into one rule per part
    isolated = {"id": "isolated", "title": "isolated", "citation": cite, "actions": ["act-v"],
                "when": {"all": [{"fact": "concerns.domestic_abuse_known", "is": True}, {"any": [
                    {"fact": "victim.isolated", "is": True}, {"fact": "victim.separating", "is": True},
                    {"fact": "concerns.out_of_hours", "is": True}]}]}}

    def vulnerable(level: str) -> dict[str, Any]:
        return {"id": "vulnerable", "title": "vulnerable", "citation": cite, "sets": {"marac": level},
                "when": {"all": [{"outcome": {"at_least": "scale_1"}}, {"any": [
                    {"fact": "victim.pregnant", "is": True},
                    {"count": "children", "where": {"fact": "special_needs", "is": True}, "at_least": 1},
                    {"fact": "assessments.specss", "is": "medium"}]}]}}

    a = copy.deepcopy(base)
    if grouping:  # a small pair for the grouped and split conditions
        a["rules"] = [*rules(12, 2, 4, "scale_3")[2:5:2], isolated, vulnerable("required")]
        b = copy.deepcopy(base)
        b["rules"] = [*rules(6, 3, 3, "scale_2")[2:5:2], {**isolated, "sets": {"early_help": "required"}},
                      vulnerable("consider")]
        b["version"] = "synthetic-b"
        return pack_from_data(a, "<synthetic-a>"), pack_from_data(b, "<synthetic-b>")
    a["rules"] = [*rules(12, 2, 4, "scale_3"), born_baby]
    b = copy.deepcopy(base)
    b["rules"] = [*rules(6, 3, 3, "scale_2"), recent]
    b["version"] = "synthetic-b"
    return pack_from_data(a, "<synthetic-a>"), pack_from_data(b, "<synthetic-b>")


def _all_cases(search: dvdiff._Search) -> list[tuple[int, ...]]:
    """Every case of the searched space, by walking the decomposition."""
    def node(n: dvdiff._Leaf | dvdiff._Cond) -> list[dict[int, int]]:
        if isinstance(n, dvdiff._Leaf):
            return [dict(zip(n.vars, combo, strict=True))
                    for combo in itertools.product(*(range(len(search.vars[v].values)) for v in n.vars))]
        out = []
        for s, branch in enumerate(n.branches):
            for parts in itertools.product(*(node(m) for m in branch)):
                merged = {n.var: s}
                for p in parts:
                    merged.update(p)
                out.append(merged)
        return out

    wits = []
    for parts in itertools.product(*(node(n) for n in search.top)):
        w = [-1] * len(search.vars)
        for p in parts:
            for k, v in p.items():
                w[k] = v
        wits.append(tuple(w))
    return wits


@pytest.mark.parametrize("flat_limit,leaf_limit,grouping", [(64, 2000, False), (64, 2000, True), (0, 3, True)])
def test_counts_and_minimal_witnesses_match_brute_force(
        monkeypatch: pytest.MonkeyPatch, flat_limit: int, leaf_limit: int, grouping: bool) -> None:
    """The decomposed search (lists split into field groups, facts conditioned on) counts every
    case of its space into the right cell and finds the smallest case of each cell."""
    monkeypatch.setattr(dvdiff, "FLAT_LIMIT", flat_limit)
    monkeypatch.setattr(dvdiff, "LEAF_LIMIT", leaf_limit)
    a, b = _synthetic_pair(grouping)
    d = diff_packs(a, b)
    assert d.search.exhaustive and d.outcomes and d.dimensions and (d.actions or grouping)
    search = dvdiff._Search(a, b, d.search.assessment_date, dvdiff.DEFAULT_MAX_CASES, 0)
    if grouping:
        # the facts only the `isolated` rule reads are searched through its truth:
        # true 1×19, false 27+2, unknown the other 33 of 3^4
        group = next(v for v in search.vars if v.name.startswith("all("))
        assert group.facts == ["concerns.domestic_abuse_known", "victim.isolated", "victim.separating",
                               "concerns.out_of_hours"]
        assert sorted(v.weight for v in group.values) == [19, 29, 33]
        assert [r.id for r in search.sides[0].rules if r.id.startswith("vulnerable")] == [
            "vulnerable#0", "vulnerable#1", "vulnerable#2"]  # the `any` rule is searched in parts
    wits = _all_cases(search)
    weights = [math.prod(search.vars[k].values[i].weight for k, i in enumerate(w) if i >= 0) for w in wits]
    assert sum(weights) == d.search.space == d.search.searched
    tallies: dict[tuple[str, str, str, str], list[int]] = {}
    for wit, weight in zip(wits, weights, strict=True):
        case = search.case_of(wit)
        da, db = dv.evaluate(case, a), dv.evaluate(case, b)
        size = facts_set(case)
        keys = [("outcome", "outcome", da.outcome.id, db.outcome.id)]
        keys += [("dimension", k, v.value, db.dimensions[k].value) for k, v in da.dimensions.items()]
        ids_a, ids_b = {x.id for x in da.actions}, {x.id for x in db.actions}
        keys += [("action", x, "required" if x in ids_a else "not required",
                  "required" if x in ids_b else "not required")
                 for x in ("act-x", "act-y", "act-z", "act-w", "act-v")
                 if x in {y.id for y in a.actions}]
        for key in keys:
            if key[2] != key[3]:
                entry = tallies.setdefault(key, [0, size])
                entry[0] += weight
                entry[1] = min(entry[1], size)
    reported = {(c.kind, c.subject, c.a, c.b): (c.cases, c.witness.facts_set) for c in d.cells}
    assert reported == {k: (v[0], v[1]) for k, v in tallies.items()}


def test_changed_thresholds_show_in_the_witnesses() -> None:
    a, b = _synthetic_pair()
    d = diff_packs(a, b)
    on = d.search.assessment_date
    cells = {(c.kind, c.subject, c.a, c.b): c.witness.case for c in d.cells}
    # a rule only A has: a born child under 12 months
    baby = cells[("action", "act-z", "required", "not required")]
    assert len(baby["children"]) == 1 and 0 <= baby["children"][0]["age_months"] < 12
    # a rule only B has: an incident in the last 6 months (window boundary inclusive)
    recent = cells[("action", "act-w", "not required", "required")]
    assert date.fromisoformat(recent["incidents"][0]["date"]) >= dv_months_before(on, 6)
    # police triage >= 4 → >= 3: a level-3 triage is scale 1 under B only
    assert cells[("outcome", "outcome", "insufficient_information", "scale_1")] == {
        "assessment_date": on.isoformat(), "assessments": {"police_triage_level": 3}}
    # incidents in 12 months >= 2 → >= 3: exactly two incidents in the window
    two = [c for k, c in cells.items() if k[0] == "outcome" and k[2] == "scale_3" and "incidents" in c]
    assert two and all(len(c["incidents"]) == 2 for c in two)
    # a serious incident 6-12 months ago is scale 2 under A only
    serious = cells[("outcome", "outcome", "scale_2", "insufficient_information")]
    when = date.fromisoformat(serious["incidents"][0]["date"])
    assert dv_months_before(on, 12) <= when < dv_months_before(on, 6)


def test_sampled_search_says_so_and_finds_real_differences(without_931: PackDiff) -> None:
    d = diff_packs("london@2008-03", WITHOUT_931, max_cases=20)
    assert not d.search.exhaustive and d.search.searched < d.search.space
    assert any(not g.exhaustive for g in d.search.groups)
    assert d.outcomes
    exhaustive = {(c.kind, c.subject, c.a, c.b) for c in without_931.cells}
    for cell in d.cells:
        assert (cell.kind, cell.subject, cell.a, cell.b) in exhaustive
        da, db = dv.evaluate(cell.witness.case, "london@2008-03"), dv.evaluate(cell.witness.case, WITHOUT_931)
        if cell.kind == "outcome":
            assert (da.outcome.id, db.outcome.id) == (cell.a, cell.b)
    assert "NOT exhaustive" in render(d, "text")
    assert "**not exhaustive**" in render(d, "markdown")


def test_facts_set_counts_known_values_and_items() -> None:
    case = dv.Case.model_validate({
        "assessment_date": "2009-01-10", "victim": {"pregnant": True},
        "children": [{"age_months": 6, "in_household": True}, {}], "incidents": [],
    })
    assert facts_set(case) == 1 + (1 + 2) + 1 + 1


# --------------------------------------------------------------------------------------------
# Reports and the command line
# --------------------------------------------------------------------------------------------


def test_reports_in_three_formats(without_931: PackDiff) -> None:
    text = render(without_931, "text")
    assert "rule      removed  baby-under-12-months [9.3.1]" in text
    assert "scale_4 → insufficient_information" in text
    assert "by baby-under-12-months [9.3.1]" in text
    md = render(without_931, "markdown")
    assert md.startswith("# Pack diff: london@2008-03 → london@2008-03-fixture-without-9.3.1")
    assert "| rule | removed | `baby-under-12-months` | 9.3.1 |" in md
    assert "```yaml\nassessment_date: 2008-03-01\nvictim: {pregnant: true}\n" in md
    data = json.loads(render(without_931, "json"))
    assert PackDiff.model_validate(data).outcomes == without_931.outcomes


def test_cli_diff(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["diff", "london@2008-03", str(WITHOUT_931), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert Counter(c["a"] for c in data["outcomes"]) == Counter({"scale_4": 4})
    assert main(["diff", "london@2008-03", "london@2008-03"]) == 0
    assert "No case is decided differently" in capsys.readouterr().out
    out = tmp_path / "diff.md"
    assert main(["diff", "london", str(REWORDED), "--format", "markdown", "-o", str(out)]) == 1
    assert out.read_text(encoding="utf-8").startswith("# Pack diff:")
    assert main(["diff", "london", "nosuchboard"]) == 2
    assert "no pack for board 'nosuchboard'" in capsys.readouterr().err


def test_item_values_cover_each_side_of_every_threshold() -> None:
    on = date(2020, 6, 15)
    ages = dvdiff._field_options("children", "age", {"age_months": [("lt", 18.0)], "unborn": [("is", True)]},
                                 [], on)
    assert {"age_months": 17} in ages and {"age_months": 18} in ages
    assert {"age_years": 1} in ages  # 12-23 months: under 18 months is unknown
    assert {} in ages and {"unborn": True} in ages and {"unborn": False} in ages
    dates = dvdiff._field_options("incidents", "date", {}, [12], on)
    assert dates == [{}, {"date": date(2019, 6, 15)}, {"date": date(2019, 6, 14)}]
    kinds = dvdiff._field_options("incidents", "kind", {"kind": [("is", "sexual")]}, [], on)
    assert kinds == [{}, {"kind": "sexual"}, {"kind": "physical"}]  # tested, and one never tested


def test_a_sampled_diff_with_list_facts_shrinks_its_witnesses_without_error() -> None:
    # a changed count over children: the list's length and its items are separate search variables,
    # and shrinking a sampled witness used to shorten the list without its item values
    text = (rules_dir() / "llr" / "2.14.yaml").read_text(encoding="utf-8")
    old = "when: {count: children, where: {fact: injured, is: true}, at_least: 1}"
    assert old in text
    data = yaml.safe_load(text.replace(old, old.replace("at_least: 1", "at_least: 2")))
    changed = pack_from_data(data, "llr-injured-twice.yaml")
    d = diff_packs("llr@2.14", changed, max_cases=50)
    assert not d.search.exhaustive
    assert d.cells
    for cell in d.cells:
        case = cell.witness.case
        da, db = dv.evaluate(case, "llr@2.14"), dv.evaluate(case, changed)
        if cell.kind == "outcome":
            assert (da.outcome.id, db.outcome.id) == (cell.a, cell.b)


def test_json_report_is_byte_identical_between_runs() -> None:
    first = render(diff_packs("london@2008-03", WITHOUT_931), "json")
    again = render(diff_packs("london@2008-03", WITHOUT_931), "json")
    assert first == again and '"seconds"' not in first
    assert "evaluations in" in render(diff_packs("london@2008-03", WITHOUT_931), "text")
