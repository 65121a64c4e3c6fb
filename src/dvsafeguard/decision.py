"""The decision: outcome, bounds, cited rules and actions — and how it is built from a match.

A decision says which outcome the known facts establish (``outcome``), the lowest and highest
outcome still reachable once the unknown facts are known (``bounds``), which unknown facts could
raise it (``unknowns``), every rule that applied with its citation and the facts it used, the
required actions (each cited, with who, when and whether in writing), the actions that would
become required if unknowns resolve badly, the readings of ambiguous text that were applied, and
the pack (id, version, sha256) and library version that produced it.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .conditions import AllOf, AnyOf, Condition, CountTest, FactTest, NotOf, OutcomeTest, Value, compare
from .derive import DERIVED, CaseView
from .engine import Match, count_range
from .pack import DIMENSIONS, Citation, Deadline, Pack, Rule

LIBRARY_VERSION = "0.1.0"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackRef(_Out):
    id: str
    board: str
    version: str
    sha256: str
    source_document: str
    source_sha256: str


class OutcomeRef(_Out):
    id: str
    label: str
    rank: int


class Outcome(OutcomeRef):
    citation: Citation


class Bounds(_Out):
    lowest: OutcomeRef
    highest: OutcomeRef


class Reading(_Out):
    """A documented reading of ambiguous text that a rule applies."""

    id: str
    paragraph: str
    text: str


class AppliedRule(_Out):
    id: str
    title: str
    citation: Citation
    outcome: str | None
    sets: dict[str, str]
    facts: dict[str, Any]
    reading: Reading | None
    certain: bool


class RequiredAction(_Out):
    id: str
    text: str
    kind: Literal["must", "should", "consider", "must_not"]
    who: str | None
    deadline: Deadline | None
    in_writing: bool
    citation: Citation
    because: list[str]


class PossibleAction(RequiredAction):
    if_known: list[str]


class UnknownFact(_Out):
    fact: str
    could_raise_to: str | None
    rules: list[str]


class DimensionValue(_Out):
    value: str
    lowest: str
    highest: str
    because: list[str]
    citations: list[Citation]


class Decision(_Out):
    """A cited decision for one case under one pack version."""

    case_id: str | None
    assessment_date: date
    pack: PackRef
    library_version: str
    engine: Literal["compiled", "durable"]
    outcome: Outcome
    settled: bool
    bounds: Bounds
    combination: Citation
    rules: list[AppliedRule]
    actions: list[RequiredAction]
    possible_actions: list[PossibleAction]
    unknowns: list[UnknownFact]
    dimensions: dict[str, DimensionValue]
    factors: list[AppliedRule]

    def to_json(self, **kw: Any) -> str:
        return self.model_dump_json(indent=2, **kw)

    def comparable(self) -> dict[str, Any]:
        """The decision without the engine name: what two engines must agree on."""
        return self.model_dump(mode="json", exclude={"engine"})


# --------------------------------------------------------------------------------------------
# Explaining a rule: facts it used, unknowns that keep it undecided
# --------------------------------------------------------------------------------------------


def _json_value(v: Value) -> Any:
    if isinstance(v, tuple):
        return [v[0], v[1]] if v[0] != v[1] else v[0]
    return v


def _fact_value(view: CaseView, path: str, compiler: Any) -> Value:
    return compiler.value_fn(path)(view)  # type: ignore[no-any-return]


def explain(cond: Condition, view: CaseView, compiler: Any, used: dict[str, Any],
            unknown: list[str]) -> None:
    """Collect the facts a condition read (``used``) and the unknown facts it hinges on."""
    if isinstance(cond, AllOf | AnyOf):
        for c in cond.all if isinstance(cond, AllOf) else cond.any:
            explain(c, view, compiler, used, unknown)
    elif isinstance(cond, NotOf):
        explain(cond.not_, view, compiler, used, unknown)
    elif isinstance(cond, FactTest):
        value = _fact_value(view, cond.fact, compiler)
        used[cond.fact] = _json_value(value)
        op, bound = cond.op()
        if compare(op, value, bound) is None:
            if cond.fact in DERIVED:
                sub_used: dict[str, Any] = {}
                explain(DERIVED[cond.fact].definition, view, compiler, sub_used, unknown)
            elif cond.fact not in unknown:
                unknown.append(cond.fact)
    elif isinstance(cond, CountTest):
        where = compiler.item(cond.where) if cond.where is not None else None
        items, complete = view.items(cond.count)
        lo, hi = count_range(view, cond, where)
        used[f"count({cond.count})"] = [lo, hi] if hi != lo else lo
        if items is None:
            if cond.count not in unknown:
                unknown.append(cond.count)
            return
        if cond.where is not None:
            for i, item in enumerate(items):
                for leaf in _leaves(cond.where):
                    op, bound = leaf.op()
                    if compare(op, item.get(leaf.fact), bound) is None:
                        name = f"{cond.count}[{i}].{leaf.fact}"
                        if name not in unknown:
                            unknown.append(name)
        if cond.within_months is not None:
            for i, item in enumerate(items):
                if item.get("date") is None and f"{cond.count}[{i}].date" not in unknown:
                    unknown.append(f"{cond.count}[{i}].date")
        if complete is not True and cond.at_least is not None:
            flag = f"{cond.count}_complete"
            if flag not in unknown:
                unknown.append(flag)
    elif isinstance(cond, OutcomeTest):
        lo, hi = view.__dict__["outcome_range"]
        used["outcome"] = lo if lo == hi else [lo, hi]
        if lo != hi and "outcome" not in unknown:
            unknown.append("outcome")


def _leaves(cond: Condition) -> list[FactTest]:
    if isinstance(cond, FactTest):
        return [cond]
    if isinstance(cond, AllOf | AnyOf):
        out: list[FactTest] = []
        for c in cond.all if isinstance(cond, AllOf) else cond.any:
            out.extend(_leaves(c))
        return out
    if isinstance(cond, NotOf):
        return _leaves(cond.not_)
    return []


# --------------------------------------------------------------------------------------------
# Building the decision
# --------------------------------------------------------------------------------------------


def _pack_ref(pack: Pack) -> PackRef:
    return PackRef(id=pack.id, board=pack.board, version=pack.version, sha256=pack.sha256,
                   source_document=pack.source.document, source_sha256=pack.source.sha256)


def _ref(pack: Pack, rank: int) -> OutcomeRef:
    lv = pack.ladder[rank]
    return OutcomeRef(id=lv.id, label=lv.label, rank=rank)


def _applied(pack: Pack, rule: Rule, view: CaseView, compiler: Any, certain: bool) -> tuple[AppliedRule, list[str]]:
    used: dict[str, Any] = {}
    unknown: list[str] = []
    explain(rule.when, view, compiler, used, unknown)
    reading = None
    if rule.reading:
        n = pack.note(rule.reading)
        reading = Reading(id=n.id, paragraph=n.paragraph, text=n.text)
    applied = AppliedRule(id=rule.id, title=rule.title, citation=rule.citation, outcome=rule.outcome,
                          sets=dict(rule.sets), facts=used, reading=reading, certain=certain)
    return applied, unknown


def build(pack: Pack, view: CaseView, match: Match, compiler: Any,
          engine: Literal["compiled", "durable"] = "compiled") -> Decision:
    """Turn a match into a decision. Pure: the same pack, case and match give the same decision."""
    lo, hi = match.outcome_range
    truths = {**match.outcome_rules, **match.action_rules}
    applied: list[AppliedRule] = []
    factors: list[AppliedRule] = []
    actions: dict[str, list[str]] = {}
    possible: dict[str, tuple[list[str], list[str]]] = {}
    unknowns: dict[str, tuple[int, list[str]]] = {}
    dims_lo = {d: 0 for d in pack.dimensions}
    dims_because: dict[str, list[str]] = {d: [] for d in pack.dimensions}
    dims_cite: dict[str, list[Citation]] = {d: [] for d in pack.dimensions}

    undecided: list[tuple[Rule, list[str]]] = []
    for rule in pack.rules:  # pack order: deterministic
        if rule.id not in truths:
            continue
        certain = truths[rule.id] is True
        if not certain:
            undecided.append((rule, []))
            continue
        app, _ = _applied(pack, rule, view, compiler, certain)
        (factors if rule.factor else applied).append(app)
        for a in rule.actions:
            actions.setdefault(a, []).append(rule.id)
        for dim, value in rule.sets.items():
            r = DIMENSIONS[dim].index(value)
            if r > dims_lo[dim]:
                dims_because[dim], dims_cite[dim] = [rule.id], [rule.citation]
            elif r == dims_lo[dim] and r > 0:
                dims_because[dim].append(rule.id)
                dims_cite[dim].append(rule.citation)
            dims_lo[dim] = max(dims_lo[dim], r)
    dims_hi = dict(dims_lo)

    # An undecided rule matters only if knowing its facts could change the decision: raise the
    # outcome, add an action not already required, or raise a dimension.
    for rule, _ in undecided:
        rank = pack.rank(rule.outcome) if rule.outcome else -1
        new_actions = [a for a in rule.actions if a not in actions]
        raises = {d: DIMENSIONS[d].index(v) for d, v in rule.sets.items()
                  if DIMENSIONS[d].index(v) > dims_lo[d]}
        if rank <= lo and not new_actions and not raises:
            continue
        _, unknown = _applied(pack, rule, view, compiler, False)
        for d, r in raises.items():
            dims_hi[d] = max(dims_hi[d], r)
        for a in new_actions:
            because, facts = possible.setdefault(a, ([], []))
            because.append(rule.id)
            facts.extend(f for f in unknown if f not in facts)
        for f in unknown:
            best, rules = unknowns.get(f, (-1, []))
            unknowns[f] = (max(best, rank) if rank > lo else best, [*rules, rule.id])

    level = pack.ladder[lo]
    required = [
        RequiredAction(**_action_fields(pack, a), because=because) for a, because in actions.items()
    ]
    pending = [
        PossibleAction(**_action_fields(pack, a), because=because, if_known=facts)
        for a, (because, facts) in possible.items() if a not in actions
    ]
    order = {a.id: i for i, a in enumerate(pack.actions)}
    required.sort(key=lambda a: order[a.id])
    pending.sort(key=lambda a: order[a.id])
    return Decision(
        case_id=view.case.case_id,
        assessment_date=view.case.assessment_date,
        pack=_pack_ref(pack),
        library_version=LIBRARY_VERSION,
        engine=engine,
        outcome=Outcome(id=level.id, label=level.label, rank=lo, citation=level.citation),
        settled=lo == hi,
        bounds=Bounds(lowest=_ref(pack, lo), highest=_ref(pack, hi)),
        combination=pack.combination.citation,
        rules=applied,
        actions=required,
        possible_actions=pending,
        unknowns=[
            UnknownFact(fact=f, could_raise_to=pack.ladder[best].id if best >= 0 else None, rules=rules)
            for f, (best, rules) in unknowns.items()
        ],
        dimensions={
            d: DimensionValue(value=DIMENSIONS[d][dims_lo[d]], lowest=DIMENSIONS[d][dims_lo[d]],
                              highest=DIMENSIONS[d][dims_hi[d]], because=dims_because[d],
                              citations=dims_cite[d])
            for d in pack.dimensions
        },
        factors=factors,
    )


def _action_fields(pack: Pack, action_id: str) -> dict[str, Any]:
    a = pack.action(action_id)
    return {"id": a.id, "text": a.text, "kind": a.kind, "who": a.who, "deadline": a.deadline,
            "in_writing": a.in_writing, "citation": a.citation}
