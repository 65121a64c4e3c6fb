"""Reports for people: a decision as readable text, and explanations ("why not scale 4?").

Also the ``evaluate`` and ``explain`` commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .conditions import AllOf, AnyOf, Condition, FactTest, NotOf, Truth, describe
from .decision import Decision
from .derive import DERIVED, CaseView
from .engine import compiled
from .evaluate import evaluate, load_case
from .facts import Case
from .pack import Pack, load_pack


def _mark(t: Truth) -> str:
    return {True: "yes", False: "no", None: "unknown"}[t]


def condition_trace(cond: Condition, view: CaseView, pack: Pack, depth: int = 0) -> list[str]:
    """Each part of a condition with whether it holds for this case, indented."""
    compiler = compiled(pack).compiler
    t = compiler.top(cond)(view)
    pad = "  " * depth
    if isinstance(cond, AllOf | AnyOf):
        word = "all of" if isinstance(cond, AllOf) else "any of"
        lines = [f"{pad}[{_mark(t)}] {word}:"]
        for c in cond.all if isinstance(cond, AllOf) else cond.any:
            lines.extend(condition_trace(c, view, pack, depth + 1))
        return lines
    if isinstance(cond, NotOf):
        return [f"{pad}[{_mark(t)}] not:", *condition_trace(cond.not_, view, pack, depth + 1)]
    line = f"{pad}[{_mark(t)}] {describe(cond)}"
    if isinstance(cond, FactTest):
        value = compiler.value_fn(cond.fact)(view)
        line += f"   (known: {_show(value)})"
        if cond.fact in DERIVED:
            line += f"   — {DERIVED[cond.fact].description}"
    return [line]


def _show(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, tuple):
        lo, hi = value
        return f"{lo:g}" if lo == hi else f"{lo:g}–{'∞' if hi is None else f'{hi:g}'}"
    return json.dumps(value) if isinstance(value, bool | str) else str(value)


def render_text(d: Decision) -> str:
    """A decision as text a practitioner can read and check against the procedure."""
    out = [
        f"{d.pack.board} — pack {d.pack.id}@{d.pack.version} (sha256 {d.pack.sha256[:12]}…), "
        f"dvsafeguard {d.library_version}",
        f"Case {d.case_id or '(no id)'} assessed on {d.assessment_date}",
    ]
    if not d.in_force:
        until = f" to {d.pack.in_force_to}" if d.pack.in_force_to else ""
        out.append(f"NOTE: this procedure was not in force on {d.assessment_date} (in force from "
                   f"{d.pack.in_force_from}{until}).")
    out += [
        "",
        f"OUTCOME: {d.outcome.label}  [{d.outcome.id}]",
        f"  {d.outcome.citation.paragraph}: \"{d.outcome.citation.quote}\"",
    ]
    if d.settled:
        out.append("  Settled: no unknown fact could change it.")
    else:
        out.append(f"  NOT SETTLED: could be as high as {d.bounds.highest.label} [{d.bounds.highest.id}] "
                   "once unknown facts are known (see below).")
    if len(d.rules) > 1:
        out.append(f"  Where several rules apply, {d.combination.paragraph}: \"{d.combination.quote}\"")
    if d.rules:
        out += ["", "WHY — rules that apply:"]
        for r in d.rules:
            effect = f" → {r.outcome}" if r.outcome else ""
            out.append(f"  • {r.title}{effect}  [{r.id}]")
            out.append(f"    {r.citation.paragraph}: \"{r.citation.quote}\"")
            facts = ", ".join(f"{k} = {_fmt(v)}" for k, v in r.facts.items())
            out.append(f"    facts: {facts}")
            if r.reading:
                out.append(f"    reading ({r.reading.paragraph}): {r.reading.text}")
    if d.actions:
        out += ["", "REQUIRED ACTIONS:"]
        for a in d.actions:
            out.append(f"  • [{a.kind.upper().replace('_', ' ')}] {a.text}")
            extra = [f"who: {a.who}" if a.who else "", f"when: {a.deadline.text}" if a.deadline else "",
                     "in writing" if a.in_writing else ""]
            extra_s = "; ".join(e for e in extra if e)
            out.append(f"    {a.citation.paragraph}{' — ' + extra_s if extra_s else ''}")
    if d.dimensions:
        out += ["", "ACROSS BOARDS:"]
        for name, dv in d.dimensions.items():
            rng = "" if dv.lowest == dv.highest else f" (could be {dv.highest})"
            cites = ", ".join(c.paragraph for c in dv.citations)
            out.append(f"  {name}: {dv.value}{rng}{'  — ' + cites if cites else ''}")
    if d.unknowns:
        out += ["", "UNKNOWN FACTS THAT COULD CHANGE THE DECISION:"]
        for u in d.unknowns:
            raise_to = f"could raise the outcome to {u.could_raise_to}" if u.could_raise_to else "could add actions"
            out.append(f"  • {u.fact}: {raise_to} (rules: {', '.join(u.rules)})")
    if d.possible_actions:
        out += ["", "ACTIONS THAT WOULD BE REQUIRED IF UNKNOWN FACTS ARE CONFIRMED:"]
        for pa in d.possible_actions:
            out.append(f"  • [{pa.kind.upper().replace('_', ' ')}] {pa.text}  ({pa.citation.paragraph}; "
                       f"depends on {', '.join(pa.if_known)})")
    if d.factors:
        out += ["", "FACTORS CONSIDERED (recorded, they do not set the outcome):"]
        for f in d.factors:
            out.append(f"  • {f.title} — {f.citation.paragraph}")
    return "\n".join(out) + "\n"


def show_value(v: Any, quote: bool = True) -> str:
    """A fact value as a rule read it, for people: ``unknown``, ``true``, ``"high"``, ``3 or more``
    (a count whose upper end is open), ``12–23`` (an age in months known as a range),
    ``scale_1 … scale_3`` (an outcome not yet settled)."""
    if v is None:
        return "unknown"
    if isinstance(v, list | tuple) and len(v) == 2:
        lo, hi = (int(x) if isinstance(x, float) and x.is_integer() else x for x in v)
        if isinstance(lo, str):
            return f"{lo} … {hi}"
        return f"{lo} or more" if hi is None else f"{lo}–{hi}"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, bool) or (quote and isinstance(v, str)):
        return json.dumps(v)
    return str(v)


_fmt = show_value


def explain_text(case: Case, pack: Pack, why_not: str | None = None) -> str:
    """Rule → facts → paragraph for every rule that applies or is undecided; and 'why not LEVEL?'."""
    d = evaluate(case, pack)
    view = CaseView(case)
    compiled(pack).match(view)  # sets the outcome range the action rules read
    out = [f"Outcome {d.outcome.id} (bounds {d.bounds.lowest.id} … {d.bounds.highest.id}) under {pack.ref}", ""]
    if why_not:
        out += why_not_text(d, view, pack, why_not)
        return "\n".join(out) + "\n"
    fired = {r.id for r in d.rules} | {f.id for f in d.factors}
    undecided = {r for u in d.unknowns for r in u.rules}
    for rule in pack.rules:
        if rule.id not in fired and rule.id not in undecided:
            continue
        state = "APPLIES" if rule.id in fired else "UNDECIDED (depends on unknown facts)"
        out.append(f"{rule.id}: {state}")
        out.append(f"  {rule.title}")
        out.append(f"  {rule.citation.paragraph}: \"{rule.citation.quote}\"")
        out += ["  " + line for line in condition_trace(rule.when, view, pack, 1)]
        out.append("")
    return "\n".join(out) + "\n"


def why_not_text(d: Decision, view: CaseView, pack: Pack, level: str) -> list[str]:
    if level not in pack.level_ids:
        return [f"{level!r} is not an outcome of {pack.ref}; outcomes: {', '.join(pack.level_ids)}"]
    want = pack.rank(level)
    if want == d.outcome.rank:
        return [f"The outcome is {level}: see the rules that apply ({', '.join(r.id for r in d.rules)})."]
    if want < d.outcome.rank:
        return [
            f"{level} is lower than the outcome {d.outcome.id}. {pack.combination.citation.paragraph}: "
            f"\"{pack.combination.citation.quote}\"",
            "Rules giving the higher outcome: "
            + ", ".join(f"{r.id} ({r.citation.paragraph})" for r in d.rules if r.outcome),
        ]
    lines = [f"Why not {level}? These rules would give {level} or higher, and do not apply:"]
    for rule in pack.rules:
        if rule.outcome is None or pack.rank(rule.outcome) < want:
            continue
        lines.append(f"- {rule.id} → {rule.outcome}  ({rule.citation.paragraph}: \"{rule.citation.quote}\")")
        lines += ["  " + x for x in condition_trace(rule.when, view, pack, 1)]
    if d.bounds.highest.rank >= want:
        lines.append(f"{level} is still reachable: unknown facts could raise the outcome to "
                     f"{d.bounds.highest.id}.")
    else:
        lines.append(f"{level} is not reachable from the facts as known, whatever the unknowns turn out to be.")
    return lines


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def _cmd_evaluate(args: argparse.Namespace) -> int:
    case = load_case(args.case)
    pack = load_pack(args.pack)
    d = evaluate(case, pack, engine=args.engine)
    print(d.to_json() if args.json else render_text(d), end="" if not args.json else "\n")
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    case = load_case(args.case)
    pack = load_pack(args.pack)
    if args.why_not is not None and args.why_not not in pack.level_ids:
        print(f"error: --why-not: {args.why_not!r} is not an outcome of {pack.ref}; outcomes: "
              f"{', '.join(pack.level_ids)}", file=sys.stderr)
        return 2
    print(explain_text(case, pack, args.why_not), end="")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="evaluate a case under a pack and print the cited decision")
    p.add_argument("case", help="case file (YAML or JSON)")
    p.add_argument("--pack", required=True, help="pack reference (london, london@2008-03) or file")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    p.add_argument("--engine", choices=["compiled", "durable"], default="compiled")
    p.set_defaults(func=_cmd_evaluate)
    e = sub.add_parser("explain", help="show rule → facts → paragraph, or why an outcome was not reached")
    e.add_argument("case")
    e.add_argument("--pack", required=True)
    e.add_argument("--why-not", metavar="LEVEL", help="explain why the outcome is not LEVEL (e.g. scale_4)")
    e.set_defaults(func=_cmd_explain)
