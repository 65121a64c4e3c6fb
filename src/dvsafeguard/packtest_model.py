"""The pack-test file format: ``rules/<board>/<version>.tests.yaml``.

A pack-test file names its pack (optional: by default the sibling ``<version>.yaml``) and lists
tests; each test is a case and what the decision must say about it. Every key of ``expect`` is
optional and every key given is checked. Unknown keys are refused, so a misspelt expectation is
an error, never an expectation that silently passes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expect(_Model):
    """What the decision must say. List keys name items that must be present (``rules``,
    ``actions``, ``possible_actions``, ``citations``, ``unknowns``) or absent (``not_rules``,
    ``not_actions``); an empty list for a "present" key means there must be none."""

    outcome: str | None = Field(default=None, description="The outcome level id.")
    settled: bool | None = Field(default=None, description="Whether the outcome is settled.")
    lowest: str | None = Field(default=None, description="The lowest reachable outcome (bounds).")
    highest: str | None = Field(default=None, description="The highest reachable outcome (bounds).")
    rules: list[str] | None = Field(default=None, description="Rules that applied (certainly).")
    not_rules: list[str] | None = Field(default=None, description="Rules that did not apply.")
    actions: list[str] | None = Field(default=None, description="Required actions.")
    not_actions: list[str] | None = Field(default=None, description="Actions not required.")
    possible_actions: list[str] | None = Field(
        default=None, description="Actions that would become required if unknowns resolve."
    )
    dimensions: dict[str, str] | None = Field(default=None, description="Dimension values.")
    citations: list[str] | None = Field(
        default=None, description="Paragraphs cited by applied rules."
    )
    unknowns: list[str] | None = Field(default=None, description="Facts listed as unknown.")


class PackTestCase(_Model):
    """One test: a name, a case and the expectations."""

    name: str = Field(min_length=1)
    case: dict[str, Any]
    expect: Expect


class PackTestFile(_Model):
    """A pack-test file."""

    pack: str | None = Field(default=None, description="Pack reference; default: the sibling pack.")
    tests: list[PackTestCase] = Field(min_length=1)
