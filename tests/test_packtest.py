"""YAML pack tests: loading, comparing, the trace of a failure, coverage, the CLI and the pytest
plugin."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dvsafeguard import InputError, evaluate, load_pack
from dvsafeguard.cli import main
from dvsafeguard.pack import rules_dir
from dvsafeguard.packtest import (
    compare_expect,
    coverage,
    coverage_of_files,
    find_test_files,
    load_tests,
    run_file,
)
from dvsafeguard.packtest_model import Expect

LONDON = rules_dir() / "london" / "2008-03.yaml"
LONDON_TESTS = rules_dir() / "london" / "2008-03.tests.yaml"

PASSING = """\
  - name: baby under 12 months is scale 4
    case:
      assessment_date: 2009-01-10
      children: [{date_of_birth: 2008-06-01, in_household: true}]
      concerns: {domestic_abuse_known: true}
    expect:
      outcome: scale_4
      settled: true
      rules: [baby-under-12-months]
      actions: [refer-csc-9-3-1]
      dimensions: {csc_referral: required}
      citations: ["9.3.1"]
"""

FAILING = """\
  - name: deliberately wrong - a baby is not scale 1
    case:
      assessment_date: 2009-01-10
      children: [{date_of_birth: 2008-06-01, in_household: true}]
      concerns: {domestic_abuse_known: true}
    expect:
      outcome: scale_1
      not_rules: [baby-under-12-months]
"""


def one(expect: str, case: str = "{assessment_date: 2009-01-10}", name: str = "x") -> str:
    """One test, as YAML under ``tests:``."""
    return f"  - name: {name}\n    case: {case}\n    expect: {expect}\n"


def rules_copy(tmp_path: Path, tests: str, pack_line: str = "") -> Path:
    """A rules tree in tmp_path with a copy of the London pack and the given tests."""
    board = tmp_path / "rules" / "london"
    board.mkdir(parents=True)
    shutil.copy(LONDON, board / "2008-03.yaml")
    (board / "2008-03.tests.yaml").write_text(f"{pack_line}tests:\n{tests}", encoding="utf-8")
    return board / "2008-03.tests.yaml"


# ---------------------------------------------------------------------------- the London tests


@pytest.mark.parametrize("engine", ["compiled", "durable"])
def test_london_pack_tests_pass_with_both_engines(engine: str) -> None:
    result = run_file(LONDON_TESTS, engine)  # type: ignore[arg-type]
    assert len(result.results) >= 40
    failures = "\n\n".join(r.report() for r in result.failed)
    assert not result.failed, failures


def test_london_pack_tests_cover_every_rule_action_and_level() -> None:
    result = run_file(LONDON_TESTS)
    cov = coverage(result.pack, [r.decision for r in result.results if r.decision])
    assert cov.untested_rules == []
    assert cov.untested_actions == []
    assert cov.untested_levels == []
    assert cov.complete
    assert (cov.rules, cov.levels) == (len(result.pack.rules), 5)


# ---------------------------------------------------------------------------- pass, fail, trace


def test_a_passing_and_a_failing_test_the_failure_shows_expected_decided_and_trace(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = rules_copy(tmp_path, PASSING + FAILING)
    result = run_file(path)
    assert [r.passed for r in result.results] == [True, False]
    failed = result.failed[0]
    assert {m.key.split(" ")[0] for m in failed.mismatches} == {"outcome", "not_rules"}

    code = main(["test", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "1 passed, 1 failed" in out
    assert "'deliberately wrong - a baby is not scale 1'" in out and "FAILED" in out
    assert "outcome: expected scale_1, decided scale_4" in out
    assert "not_rules (present: baby-under-12-months)" in out
    # the trace: bounds, applied rules with paragraph and facts used, actions, unknowns
    assert "bounds [scale_4 .. scale_4]" in out
    assert "- baby-under-12-months [9.3.1] -> scale_4" in out
    assert "facts: derived.child_under_12_months=true" in out
    assert "refer-csc-9-3-1 [9.3.1] because baby-under-12-months" in out
    assert "unknowns:" in out
    # the passing test is not reported in detail
    assert "'baby under 12 months is scale 4'" not in out


def test_only_passing_tests_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = rules_copy(tmp_path, PASSING)
    assert main(["test", str(path.parent), "-v"]) == 0
    out = capsys.readouterr().out
    assert "1 passed, 0 failed" in out
    assert "ok  baby under 12 months is scale 4" in out


def test_an_error_while_evaluating_fails_that_test_and_the_run_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import dvsafeguard.packtest as packtest

    path = rules_copy(tmp_path, PASSING + FAILING)

    def broken(case: object, pack: object, *, engine: str = "compiled") -> object:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(packtest, "evaluate", broken)
    assert main(["test", str(path)]) == 1
    out = capsys.readouterr().out
    assert "0 passed, 2 failed" in out
    assert "evaluating the case (compiled engine) raised RuntimeError: engine exploded" in out


def test_unknown_bounds_and_possible_actions_are_compared(tmp_path: Path) -> None:
    path = rules_copy(tmp_path, """\
  - name: matrix scale 1, everything else unknown
    case:
      assessment_date: 2009-01-10
      matrix: [{scale: 1, category: evidence}]
    expect:
      outcome: scale_1
      settled: true
      lowest: scale_1
      highest: scale_2
      unknowns: [victim.pregnant, made.up.fact]
      possible_actions: [refer-csc-9-3-1]
      citations: ["9.4.2 c)"]
""")
    (result,) = run_file(path).results
    keys = {m.key.split(" ")[0] for m in result.mismatches}
    # settled, highest (scale_4: a baby may exist), the made-up unknown and the uncited paragraph
    assert keys == {"settled", "highest", "unknowns", "citations"}
    assert any("missing made.up.fact" in m.key for m in result.mismatches)


def test_an_empty_list_means_none(tmp_path: Path) -> None:
    d = evaluate({"assessment_date": "2009-01-10"}, LONDON)
    assert d.unknowns and d.possible_actions
    assert [m.key for m in compare_expect(Expect(unknowns=[]), d)] == ["unknowns"]
    assert [m.key for m in compare_expect(Expect(possible_actions=[]), d)] == ["possible_actions"]
    assert compare_expect(Expect(not_actions=[]), d) == []
    tick4 = {"assessment_date": "2009-01-10", "matrix": [{"scale": 4, "category": "evidence"}]}
    settled = evaluate(tick4, LONDON)
    assert compare_expect(Expect(outcome="scale_4", highest="scale_4", lowest="scale_4"),
                          settled) == []


def test_dimension_mismatch_is_reported() -> None:
    tick4 = {"assessment_date": "2009-01-10", "matrix": [{"scale": 4, "category": "evidence"}]}
    d = evaluate(tick4, LONDON)
    (m,) = compare_expect(Expect(dimensions={"csc_referral": "required", "marac": "consider"}), d)
    assert (m.key, m.expected, m.decided) == ("dimensions.marac", "consider", "required")


# ---------------------------------------------------------------------------- bad pack-test files


@pytest.mark.parametrize(("tests", "field", "message"), [
    (one("{outcom: scale_4}"), "tests[0].expect.outcom", "unknown field"),
    (one("{rules: [baby-under-12]}"), "tests[0].expect.rules[0]",
     "'baby-under-12' is not a rule of london@2008-03"),
    (one("{outcome: scale_5}"), "tests[0].expect.outcome", "'scale_5' is not a level"),
    (one("{dimensions: {marac: maybe}}"), "tests[0].expect.dimensions.marac",
     "is not a value of marac"),
    (one("{}", case="{assessment_date: 2009-01-10, victim: {pregnantt: true}}"),
     "tests[0].case.victim.pregnantt", "unknown fact"),
    (one("{}", case="{victim: {pregnant: true}}"), "tests[0].case.assessment_date",
     "Field required"),
    (one("{}") + one("{}"), "tests[1].name", "duplicate test name"),
])
def test_bad_pack_test_files_name_file_line_and_field(tmp_path: Path, tests: str, field: str,
                                                      message: str) -> None:
    path = rules_copy(tmp_path, tests)
    with pytest.raises(InputError) as err:
        load_tests(path)
    (problem,) = err.value.problems
    assert problem.field == field
    assert message in problem.message
    assert problem.file == str(path)
    assert problem.line is not None and problem.line >= 2 and problem.column is not None


def test_missing_sibling_pack_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "2001-01.tests.yaml"
    path.write_text("tests:\n" + one("{}"))
    with pytest.raises(InputError, match="no sibling pack file 2001-01.yaml"):
        load_tests(path)


def test_pack_reference_prefers_the_tests_files_own_rules_tree(tmp_path: Path) -> None:
    path = rules_copy(tmp_path, PASSING, pack_line="pack: london@2008-03\n")
    assert load_tests(path).pack.path == str((path.parent / "2008-03.yaml").resolve())
    # a tests file elsewhere falls back to the bundled pack
    elsewhere = tmp_path / "other" / "x.tests.yaml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(f"pack: london@2008-03\ntests:\n{PASSING}")
    assert load_tests(elsewhere).pack.path == str(LONDON.resolve())
    wrong = tmp_path / "other" / "y.tests.yaml"
    wrong.write_text(f"pack: london@1999-01\ntests:\n{PASSING}")
    with pytest.raises(InputError) as err:
        load_tests(wrong)
    assert err.value.problems[0].field == "pack"
    assert "1999-01" in err.value.problems[0].message


def test_cli_reports_a_bad_file_and_exits_2(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = rules_copy(tmp_path, one("{outcom: x}"))
    assert main(["test", str(path)]) == 2
    out = capsys.readouterr().out
    assert f"{path}:" in out and "tests[0].expect.outcom" in out


def test_find_test_files_accepts_dirs_tests_files_and_pack_files(tmp_path: Path) -> None:
    path = rules_copy(tmp_path, PASSING)
    assert find_test_files([tmp_path]) == [path]
    assert find_test_files([path]) == [path]
    assert find_test_files([path.parent / "2008-03.yaml"]) == [path]
    assert LONDON_TESTS in find_test_files()
    with pytest.raises(InputError):
        find_test_files([tmp_path / "nope"])


# ---------------------------------------------------------------------------- coverage


def test_coverage_reports_an_untested_rule(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = rules_copy(tmp_path, PASSING)
    result = run_file(path)
    cov = coverage(result.pack, [r.decision for r in result.results if r.decision])
    assert "specss-high" in cov.untested_rules
    assert "baby-under-12-months" not in cov.untested_rules
    assert "refer-csc-9-3-1" not in cov.untested_actions and "complete-caf" in cov.untested_actions
    assert cov.untested_levels == ["insufficient_information", "scale_1", "scale_2", "scale_3"]
    assert not cov.complete

    assert main(["test", "--coverage", str(tmp_path / "rules")]) == 0
    out = capsys.readouterr().out
    assert "coverage of london@2008-03 (1 test):" in out
    rules_line = next(ln for ln in out.splitlines() if ln.strip().startswith("rules:"))
    assert "untested:" in rules_line and "specss-high" in rules_line
    assert "baby-under-12-months," not in rules_line
    assert "levels: 1/5 exercised" in out


def test_coverage_lists_a_pack_without_tests_as_wholly_untested(tmp_path: Path) -> None:
    pack = load_pack(LONDON)
    (cov,) = coverage_of_files([], [pack])
    assert cov.tests == 0
    assert cov.untested_rules == [r.id for r in pack.rules]


def test_cli_coverage_of_the_bundled_london_pack_is_complete(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "--coverage", str(LONDON_TESTS)]) == 0
    out = capsys.readouterr().out
    pack = load_pack(LONDON)
    n_rules, n_actions = len(pack.rules), len(pack.actions)
    assert f"rules: {n_rules}/{n_rules} exercised\n" in out
    assert f"actions: {n_actions}/{n_actions} exercised\n" in out
    assert "untested" not in out


# ---------------------------------------------------------------------------- the pytest plugin


def _pytest(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_pytest_collects_pack_tests_one_item_per_case_and_not_the_pack(tmp_path: Path) -> None:
    rules_copy(tmp_path, PASSING + FAILING)
    (tmp_path / "rules" / "london" / "fixtures").mkdir()
    (tmp_path / "rules" / "london" / "fixtures" / "broken.tests.yaml").write_text("tests: oops\n")
    listed = _pytest(["--collect-only", "-q", "rules"], tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    items = [ln for ln in listed.stdout.splitlines() if "::" in ln]
    assert items == [
        "rules/london/2008-03.tests.yaml::baby under 12 months is scale 4",
        "rules/london/2008-03.tests.yaml::deliberately wrong - a baby is not scale 1",
    ]

    run = _pytest(["rules"], tmp_path)
    assert run.returncode == 1
    assert "1 failed, 1 passed" in run.stdout
    assert "outcome: expected scale_1, decided scale_4" in run.stdout
    assert "- baby-under-12-months [9.3.1] -> scale_4" in run.stdout

    durable = _pytest(["rules", "--dvsafeguard-engine", "durable", "-k", "baby"], tmp_path)
    assert "decision (durable engine)" in durable.stdout


def test_pytest_reports_a_bad_pack_test_file_as_a_collection_error(tmp_path: Path) -> None:
    rules_copy(tmp_path, one("{outcom: x}"))
    run = _pytest(["rules"], tmp_path)
    assert run.returncode != 0
    assert "tests[0].expect.outcom: unknown field" in run.stdout
