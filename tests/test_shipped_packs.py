"""Every shipped pack: its YAML tests pass on both engines and exercise every rule, action and level.

(The pytest plugin also runs each ``*.tests.yaml`` case as its own test with the compiled engine;
this file adds the durable-rules engine, agreement between the two, and coverage.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

import dvsafeguard as dv
from dvsafeguard.packtest import coverage_of_files, find_test_files, load_tests, run_file

TEST_FILES = find_test_files()
IDS = [f"{p.parent.name}/{p.name}" for p in TEST_FILES]


def test_every_shipped_pack_has_tests() -> None:
    boards = {p.parent.name for p in TEST_FILES}
    assert boards == set(dv.available())
    assert {"london", "stockport", "llr", "solihull", "stoke-staffordshire"} <= boards


@pytest.mark.parametrize("path", TEST_FILES, ids=IDS)
@pytest.mark.parametrize("engine", ["compiled", "durable"])
def test_pack_tests_pass(path: Path, engine: str) -> None:
    result = run_file(path, engine=engine)  # type: ignore[arg-type]
    failures = [r.report() for r in result.results if not r.passed]
    assert result.results and not failures, "\n\n".join(failures)


@pytest.mark.parametrize("path", TEST_FILES, ids=IDS)
def test_engines_agree_on_every_pack_test(path: Path) -> None:
    loaded = load_tests(path)
    for t in loaded.tests:
        fast = dv.evaluate(t.case, loaded.pack)
        slow = dv.evaluate(t.case, loaded.pack, engine="durable")
        assert slow.comparable() == fast.comparable(), t.name


@pytest.mark.parametrize("path", TEST_FILES, ids=IDS)
def test_pack_tests_exercise_every_rule_action_and_level(path: Path) -> None:
    (cov,) = coverage_of_files([run_file(path)], [load_tests(path).pack])
    assert (cov.untested_rules, cov.untested_actions, cov.untested_levels) == ([], [], [])
