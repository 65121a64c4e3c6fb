from __future__ import annotations

from pathlib import Path

import pytest

import dvsafeguard as dv

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT.parent / "shared" / "sources"


@pytest.fixture(scope="session")
def london() -> dv.Pack:
    return dv.load_pack("london@2008-03")


def base_case(**overrides: object) -> dict[str, object]:
    """A London case where everything that 9.3.1 needs is settled as 'no', plus overrides."""
    case: dict[str, object] = {
        "assessment_date": "2009-01-10",
        "children": [{"date_of_birth": "2005-02-01", "in_household": True}],
        "children_complete": True,
        "victim": {"pregnant": False},
        "incidents": [{"date": "2009-01-01", "severity": "lesser"}],
        "incidents_complete": True,
        "concerns": {"domestic_abuse_known": True},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(case.get(key), dict):
            case[key] = {**case[key], **value}  # type: ignore[dict-item]
        else:
            case[key] = value
    return case
