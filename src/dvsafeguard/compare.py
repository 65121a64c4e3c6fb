"""One case, side by side across boards, through the shared outcome dimensions.

Each board words its thresholds differently; every pack maps its decision onto the shared
dimensions (children's social care referral, MARAC, early help), each value cited. ``compare``
evaluates one case under several packs and lines the answers up, with the paragraph behind each
cell.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from .decision import Decision
from .evaluate import evaluate, load_case
from .facts import Case
from .pack import DIMENSIONS, Pack, available, load_pack


class Cell(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str
    highest: str
    citations: list[str]


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pack: str
    board: str
    sha256: str
    outcome: Cell
    dimensions: dict[str, Cell | None]
    actions: int
    in_force: bool
    decision: Decision


class Comparison(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    case_id: str | None
    assessment_date: str
    area: str | None
    columns: list[Column]


def _column(d: Decision, pack: Pack) -> Column:
    outcome_cites = [r.citation.paragraph for r in d.rules if r.outcome == d.outcome.id] or [
        d.outcome.citation.paragraph]
    dims: dict[str, Cell | None] = {}
    for name in DIMENSIONS:
        dv = d.dimensions.get(name)
        dims[name] = None if dv is None else Cell(
            value=dv.value, highest=dv.highest, citations=[c.paragraph for c in dv.citations])
    return Column(pack=pack.ref, board=pack.board, sha256=pack.sha256,
                  outcome=Cell(value=d.outcome.id, highest=d.bounds.highest.id, citations=outcome_cites),
                  dimensions=dims, actions=len(d.actions), in_force=d.in_force, decision=d)


def compare(case: Case, packs: list[Pack]) -> Comparison:
    """Evaluate one case under each pack."""
    return Comparison(case_id=case.case_id, assessment_date=str(case.assessment_date), area=case.area,
                      columns=[_column(evaluate(case, p), p) for p in packs])


def resolve_packs(spec: str) -> list[Pack]:
    """``all`` (latest version of every board) or a comma-separated list of pack references."""
    if spec == "all":
        return [load_pack(board) for board in sorted(available())]
    return [load_pack(ref.strip()) for ref in spec.split(",") if ref.strip()]


def _cell(c: Cell | None) -> str:
    if c is None:
        return "— (not mapped)"
    rng = "" if c.value == c.highest else f" (≤{c.highest})"
    cites = f" [{'; '.join(c.citations)}]" if c.citations else ""
    return f"{c.value}{rng}{cites}"


def render_table(cmp: Comparison) -> str:
    """A plain-text table: one column per board, one row per dimension, citations in brackets."""
    header = ["", *[c.pack for c in cmp.columns]]
    rows = [
        ["outcome", *[_cell(c.outcome) for c in cmp.columns]],
        *[[name, *[_cell(c.dimensions[name]) for c in cmp.columns]] for name in DIMENSIONS],
        ["required actions", *[str(c.actions) for c in cmp.columns]],
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()

    out = [f"Case {cmp.case_id or '(no id)'} on {cmp.assessment_date} (area: {cmp.area or 'unknown'})",
           "Each cell: value (≤ highest still reachable while facts are unknown) [paragraphs].",
           "", line(header), "-+-".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    stale = [c.pack for c in cmp.columns if not c.in_force]
    if stale:
        out.append(f"\nNot in force on {cmp.assessment_date}: {', '.join(stale)} (shown for comparison).")
    if cmp.area:
        out.append(f"\nNote: the family's area is {cmp.area}; columns for other boards show what their "
                   "procedure would decide, for comparison only.")
    return "\n".join(out) + "\n"


def _cmd(args: argparse.Namespace) -> int:
    case = load_case(args.case)
    cmp = compare(case, resolve_packs(args.packs))
    if args.json:
        data: dict[str, Any] = cmp.model_dump(mode="json")
        if not args.full:
            for col in data["columns"]:
                col.pop("decision")
        print(json.dumps(data, indent=2))
    else:
        print(render_table(cmp), end="")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("compare", help="one case side by side across boards (shared dimensions, cited)")
    p.add_argument("case")
    p.add_argument("--packs", default="all", help="'all' or comma-separated pack references")
    p.add_argument("--json", action="store_true")
    p.add_argument("--full", action="store_true", help="with --json, include each full decision")
    p.set_defaults(func=_cmd)
