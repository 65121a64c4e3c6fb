"""The command line: evaluate, explain (why not), compare — and clear errors with exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dvsafeguard as dv
from conftest import ROOT
from dvsafeguard.cli import main

EXAMPLE = str(ROOT / "examples" / "london-baby-single-incident.yaml")
NO_CHILDREN = str(ROOT / "examples" / "london-no-children.yaml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_prints_cited_decision(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "evaluate", EXAMPLE, "--pack", "london")
    assert code == 0
    assert "OUTCOME: Scale 4" in out
    assert '9.3.1: "Where there is domestic violence in families with a child under 12 months old' in out
    assert "[MUST] Refer the family into the MARAC process." in out
    assert "pack london@2008-03 (sha256" in out


def test_evaluate_json_round_trips(capsys: pytest.CaptureFixture[str]) -> None:
    from dvsafeguard import Decision

    code, out, _ = run(capsys, "evaluate", EXAMPLE, "--pack", "london@2008-03", "--json")
    assert code == 0
    d = Decision.model_validate_json(out)
    assert d.outcome.id == "scale_4" and d.case_id == "EX-LON-001"


def test_evaluate_both_engines_same_text(capsys: pytest.CaptureFixture[str]) -> None:
    _, a, _ = run(capsys, "evaluate", NO_CHILDREN, "--pack", "london")
    _, b, _ = run(capsys, "evaluate", NO_CHILDREN, "--pack", "london", "--engine", "durable")
    assert a == b


def test_explain_why_not(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", NO_CHILDREN, "--pack", "london", "--why-not", "scale_4")
    assert code == 0
    assert "Why not scale_4?" in out
    assert "[unknown] at least 1 of matrix where scale is 4" in out
    assert "[no] derived.child_under_12_months is true   (known: false)" in out
    assert "scale_4 is still reachable" in out
    code, out, _ = run(capsys, "explain", NO_CHILDREN, "--pack", "london", "--why-not", "scale_1")
    assert "lower than the outcome scale_3" in out and "9.2.5" in out


def test_explain_lists_rules_with_condition_trace(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", EXAMPLE, "--pack", "london")
    assert "baby-under-12-months: APPLIES" in out
    assert "[yes] derived.child_under_12_months is true" in out


def test_compare_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compare", EXAMPLE, "--packs", "london")
    assert code == 0
    assert "csc_referral" in out and "required [9.3.1; 9.5.5; 14.4.5]" in out
    code, out, _ = run(capsys, "compare", EXAMPLE, "--packs", "all", "--json")
    data = json.loads(out)
    packs = [c["pack"] for c in data["columns"]]
    assert "london@2008-03" in packs
    london = data["columns"][packs.index("london@2008-03")]
    assert london["outcome"]["value"] == "scale_4"
    assert london["dimensions"]["marac"]["citations"] == ["9.5.5"]


def test_bad_case_file_exits_2_with_location(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("assessment_date: 2009-01-10\nvictim:\n  pregnant: perhaps\n")
    code, out, err = run(capsys, "evaluate", str(bad), "--pack", "london")
    assert code == 2
    assert out == ""
    assert f"{bad}:3:" in err and "victim.pregnant" in err


def test_unknown_pack_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "evaluate", EXAMPLE, "--pack", "lodnon")
    assert code == 2 and "did you mean 'london'" in err


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_compare_runs_on_every_bundled_example(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    from dvsafeguard import available

    code, out, _ = run(capsys, "compare", str(example), "--packs", "all", "--json")
    assert code == 0
    columns = json.loads(out)["columns"]
    assert {c["pack"].split("@")[0] for c in columns} == set(available())
    for col in columns:
        # every pack maps onto the three shared dimensions, and a required value is cited
        for name in ("csc_referral", "marac", "early_help"):
            cell = col["dimensions"][name]
            assert cell is not None, (col["pack"], name)
            if cell["value"] == "required":
                assert cell["citations"], (col["pack"], name)


def test_explain_why_not_an_outcome_the_pack_lacks_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "explain", NO_CHILDREN, "--pack", "london", "--why-not", "scale_9")
    assert code == 2 and out == ""
    assert "'scale_9' is not an outcome of london@2008-03; outcomes: insufficient_information, scale_1" in err


def test_decisions_show_values_as_people_read_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "case.yaml"
    case.write_text("assessment_date: 2014-06-02\nchildren: [{age_years: 8, in_household: true}]\n"
                    "incidents: [{date: 2014-01-01}, {date: 2014-02-01}, {date: 2014-03-01}]\n"
                    "matrix: [{scale: 1, category: evidence}]\n", encoding="utf-8")
    d = dv.evaluate(dv.load_case(case), "london")
    actions = next(r for r in d.rules if r.id == "scale-1-actions")
    assert actions.facts["outcome"] == ("scale_1", "scale_4")  # level ids, not ranks
    code, out, _ = run(capsys, "evaluate", str(case), "--pack", "london")
    assert code == 0 and "outcome = scale_1 … scale_4" in out
    code, out, _ = run(capsys, "evaluate", str(case), "--pack", "stockport")
    assert code == 0 and "count(incidents) = 3 or more" in out and "None" not in out


def test_a_decision_says_when_its_procedure_was_not_in_force(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    early = {"assessment_date": "2008-02-29", "victim": {"pregnant": True}}
    d = dv.evaluate(early, "london")
    assert d.in_force is False and str(d.pack.in_force_from) == "2008-03-01" and d.pack.in_force_to is None
    assert dv.evaluate({**early, "assessment_date": "2008-03-01"}, "london").in_force is True
    case = tmp_path / "case.yaml"
    case.write_text("assessment_date: 2008-02-29\nvictim: {pregnant: true}\n", encoding="utf-8")
    code, out, _ = run(capsys, "evaluate", str(case), "--pack", "london")
    assert code == 0 and "NOTE: this procedure was not in force on 2008-02-29 (in force from 2008-03-01)." in out
    code, out, _ = run(capsys, "compare", str(case), "--packs", "london,stockport")
    assert "Not in force on 2008-02-29: london@2008-03, stockport@2008" in out
