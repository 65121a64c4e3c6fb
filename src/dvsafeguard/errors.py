"""Errors that name the file, the place in it and the field — never a quietly lower outcome."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (file, line, column, field path) and why."""

    message: str
    field: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None
    severity: str = "error"
    """``error`` (the input is refused) or ``warning`` (reported by ``dvsafeguard lint`` only)."""

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line, self.column) if p is not None)
        parts = [p for p in (where, self.field) if p]
        return f"{': '.join(parts)}: {self.message}" if parts else self.message


class DvsafeguardError(Exception):
    """Base of every error this library raises on purpose."""


class InputError(DvsafeguardError, ValueError):
    """A case, pack or pack test could not be read or is not valid. No decision is made."""

    def __init__(self, what: str, problems: list[Problem]) -> None:
        self.what = what
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"invalid {what} ({len(problems)} problem{'s' * (len(problems) != 1)}):\n{lines}")


class PackNotFound(DvsafeguardError, LookupError):
    """No pack matches the reference given."""


class EngineError(DvsafeguardError, RuntimeError):
    """The rules engine refused a compiled pack rule (names the rule)."""
