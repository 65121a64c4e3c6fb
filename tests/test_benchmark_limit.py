"""The benchmark's limit must be the London pack's conditions, or the ratio it prints means nothing.

``benchmarks/bench_evaluate.py`` compares ``evaluate()`` with the London conditions written by
hand as plain predicates. When the pack changes, the hand-written copy must change with it: these
tests fail until it does. (The benchmark is never timed here.)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import dvsafeguard as dv
from dvsafeguard.facts import Case
from dvsafeguard.testing import cases

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_evaluate.py"
LONDON = dv.load_pack("london")  # module level: hypothesis prints test arguments, and a pack is long


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_evaluate", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pack() -> dv.Pack:
    return LONDON


def test_limit_agrees_on_the_benchmark_cases(bench: ModuleType, pack: dv.Pack) -> None:
    bench.check_limit(pack, bench.CASES)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(case=cases(LONDON))
def test_limit_agrees_on_varied_cases(bench: ModuleType, case: Case) -> None:
    bench.check_limit(LONDON, [case.model_dump(mode="json", exclude_defaults=True)])


def test_a_limit_missing_a_rule_is_caught(bench: ModuleType, pack: dv.Pack,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real = bench.plain_london

    def without_vulnerable_adult(c: Case) -> tuple[int, int, list[str]]:
        lo, hi, fired = real(c)
        return lo, hi, [r for r in fired if r != "vulnerable-adult"]

    monkeypatch.setattr(bench, "plain_london", without_vulnerable_adult)
    raw: dict[str, Any] = {"assessment_date": "2009-01-10", "victim": {"vulnerable_adult": True}}
    with pytest.raises(AssertionError):
        bench.check_limit(pack, [raw])


def test_a_limit_with_a_wrong_outcome_is_caught(bench: ModuleType, pack: dv.Pack,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    real = bench.plain_london

    def one_lower(c: Case) -> tuple[int, int, list[str]]:
        lo, hi, fired = real(c)
        return max(lo - 1, 0), hi, fired

    monkeypatch.setattr(bench, "plain_london", one_lower)
    with pytest.raises(AssertionError):
        bench.check_limit(pack, [{"assessment_date": "2009-01-10", "assessments": {"specss": "high"}}])
