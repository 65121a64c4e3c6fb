"""The public entry points: read a case, evaluate it under a pack.

``evaluate(case, pack)`` is pure from the caller's view: it keeps no state between calls, is safe
to call from several threads, and gives the same decision for the same case and pack.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from . import yamlio
from .decision import Decision, build
from .derive import CaseView
from .engine import compiled, durable
from .errors import InputError, Problem
from .facts import Case, FieldError
from .pack import Pack, load_pack

Engine = Literal["compiled", "durable"]


def case_from_data(data: Any, name: str = "<case>", positions: yamlio.Positions | None = None) -> Case:
    """Validate case data; raise :class:`InputError` naming the file, line and field of every problem.

    A :class:`Case` is validated again: it may have been changed since it was built (a list
    appended to, a date set) in ways that its own checks did not see.
    """
    if isinstance(data, Case):
        data = data.model_dump(warnings=False)
    if not isinstance(data, Mapping):
        raise InputError("case", [Problem("a case must be a mapping of facts", file=name)])
    try:
        return Case.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = tuple(err["loc"])
            msg = "unknown fact (not allowed here)" if err["type"] == "extra_forbidden" else err["msg"]
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, FieldError):  # a check across fields that names the wrong one
                loc, msg = loc + cause.loc, cause.message
            elif isinstance(cause, ValueError):  # our own check: its words, without pydantic's prefix
                msg = str(cause)
            line, col = yamlio.locate(positions or {}, loc)
            problems.append(Problem(msg, yamlio.dotted(loc), name if positions is not None or name != "<case>"
                                    else None, line, col))
        raise InputError("case", problems) from None


WRAPPER_KEYS = frozenset({"case", "name", "expect"})
"""A case file may hold one pack test block (``name`` / ``case`` / ``expect``, as ``dvsafeguard
test`` prints counterexamples): the facts are those under ``case``."""


def load_case(path: str | Path) -> Case:
    """Read a case from a YAML (or JSON) file: the facts, or a pack test block whose ``case`` holds them."""
    data, positions, _ = yamlio.load(path, "case")
    if isinstance(data, Mapping) and "case" in data and "assessment_date" not in data:
        stray = [k for k in data if k not in WRAPPER_KEYS]
        if stray:  # facts beside `case:` would otherwise be dropped without a word
            raise InputError("case", [
                Problem("only name and expect may stand beside case:; put every fact under case:",
                        str(k), str(path), *yamlio.locate(positions, (k,))) for k in stray])
        data = data["case"]
        positions = {k[1:]: v for k, v in positions.items() if k[:1] == ("case",)}
    return case_from_data(data, str(path), positions)


def _pack(pack: Pack | str | Path) -> Pack:
    return pack if isinstance(pack, Pack) else load_pack(pack)


def evaluate(case: Case | Mapping[str, Any], pack: Pack | str | Path, *, engine: Engine = "compiled") -> Decision:
    """Evaluate a case under a pack and return the cited decision.

    ``case`` may be a :class:`Case` or plain data (validated here; bad input raises
    :class:`InputError` and no decision is made). ``pack`` may be a :class:`Pack`, a reference
    such as ``"london"`` or ``"london@2008-03"``, or a pack file path.
    """
    return _decide(case_from_data(case), _pack(pack), engine)


def _decide(c: Case, p: Pack, engine: Engine = "compiled") -> Decision:
    view = CaseView(c)
    fast = compiled(p)
    if engine == "compiled":
        match = fast.match(view)
    elif engine == "durable":
        match = durable(p).match(view)
    else:
        raise ValueError(f"engine must be 'compiled' or 'durable', not {engine!r}")
    return build(p, view, match, fast.compiler, engine)


def evaluate_many(cases: list[Case | Mapping[str, Any]], pack: Pack | str | Path) -> list[Decision]:
    """Evaluate a batch of cases under one pack (compiled once).

    Every case is validated before any is evaluated; a bad case raises :class:`InputError` whose
    fields name the case by its place in the batch (``[3].victim.pregnant``), and no decision is made.
    """
    p = _pack(pack)
    valid: list[Case] = []
    problems: list[Problem] = []
    for i, c in enumerate(cases):
        try:
            valid.append(case_from_data(c))
        except InputError as e:
            problems += [dataclasses.replace(q, field=f"[{i}].{q.field}" if q.field else f"[{i}]",
                                             file=None if q.file == "<case>" else q.file)
                         for q in e.problems]
    if problems:
        raise InputError("case", problems)
    return [_decide(c, p) for c in valid]
