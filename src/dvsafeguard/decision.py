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
from .pack import DIMENSIONS, Action, Citation, Deadline, Pack, Rule

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
        if compiler.top(cond)(view) is None and "outcome" not in unknown:
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
# Building the decision. Everything that does not depend on the case is prepared once per pack
# (a plan); outputs are assembled with ``model_construct`` from parts validated at pack load.
# --------------------------------------------------------------------------------------------


_M = Any


def _make(cls: type[_M], **fields: Any) -> _M:
    """Assemble an output model from parts that are already valid (checked at pack load).

    Equivalent to ``cls.model_construct(**fields)`` with every field given, without its
    per-call bookkeeping; the decision tests check that every decision validates as a model.
    """
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", fields)
    object.__setattr__(obj, "__pydantic_fields_set__", set(fields))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


class _RulePlan:
    __slots__ = ("rule", "static", "leaves", "rank", "sets", "actions", "unknown_readers")

    def __init__(self, pack: Pack, rule: Rule, compiler: Any, rank_of: dict[str, int]) -> None:
        self.rule = rule
        reading = None
        if rule.reading:
            n = pack.note(rule.reading)
            reading = Reading.model_construct(id=n.id, paragraph=n.paragraph, text=n.text)
        self.static = {"id": rule.id, "title": rule.title, "citation": rule.citation,
                       "outcome": rule.outcome, "sets": dict(rule.sets), "reading": reading}
        self.leaves = _leaf_readers(rule.when, compiler)
        self.rank = rank_of[rule.outcome] if rule.outcome else -1
        self.sets = [(d, DIMENSIONS[d].index(v)) for d, v in rule.sets.items()]
        self.actions = rule.actions
        self.unknown_readers = _unknown_readers(rule.when, compiler)

    def unknown(self, view: CaseView) -> list[str]:
        out: list[str] = []
        for read in self.unknown_readers:
            read(view, out)
        return out

    def applied(self, view: CaseView, certain: bool) -> AppliedRule:
        facts = {key: read(view) for key, read in self.leaves}
        return _make(AppliedRule, **self.static, facts=facts, certain=certain)


def _unknown_readers(cond: Condition, compiler: Any) -> list[Any]:
    """Functions that add to a list the unknown facts a condition hinges on (prepared once)."""
    readers: list[Any] = []
    for node in _top_leaves(cond):
        if isinstance(node, FactTest) and node.fact in DERIVED:
            sub = _unknown_readers(DERIVED[node.fact].definition, compiler)
            op, bound = node.op()
            get = compiler.value_fn(node.fact)

            def derived(v: CaseView, out: list[str], _s: list[Any] = sub, _g: Any = get,
                        _op: str = op, _b: Any = bound) -> None:
                if compare(_op, _g(v), _b) is None:
                    for r in _s:
                        r(v, out)
            readers.append(derived)
        elif isinstance(node, FactTest):
            op, bound = node.op()
            get = compiler.value_fn(node.fact)

            def fact(v: CaseView, out: list[str], _g: Any = get, _op: str = op, _b: Any = bound,
                     _f: str = node.fact) -> None:
                if compare(_op, _g(v), _b) is None and _f not in out:
                    out.append(_f)
            readers.append(fact)
        else:
            def other(v: CaseView, out: list[str], _n: Condition = node) -> None:
                explain(_n, v, compiler, {}, out)
            readers.append(other)
    return readers


def _top_leaves(cond: Condition) -> list[Condition]:
    if isinstance(cond, AllOf | AnyOf):
        out: list[Condition] = []
        for c in cond.all if isinstance(cond, AllOf) else cond.any:
            out.extend(_top_leaves(c))
        return out
    if isinstance(cond, NotOf):
        return _top_leaves(cond.not_)
    return [cond]


def _leaf_readers(cond: Condition, compiler: Any) -> list[tuple[str, Any]]:
    """(key, reader) for each fact a condition reads, to report the facts a rule used."""
    out: dict[str, Any] = {}
    stack = [cond]
    while stack:
        node = stack.pop(0)
        if isinstance(node, AllOf | AnyOf):
            stack[0:0] = list(node.all if isinstance(node, AllOf) else node.any)
        elif isinstance(node, NotOf):
            stack.insert(0, node.not_)
        elif isinstance(node, FactTest) and node.fact not in out:
            get = compiler.value_fn(node.fact)
            out[node.fact] = lambda v, _g=get: _json_value(_g(v))
        elif isinstance(node, CountTest):
            where = compiler.item(node.where) if node.where is not None else None

            def read(v: CaseView, _n: CountTest = node, _w: Any = where) -> Any:
                lo, hi = count_range(v, _n, _w)
                return lo if hi == lo else [lo, hi]

            out.setdefault(f"count({node.count})", read)
        elif isinstance(node, OutcomeTest):
            out.setdefault("outcome", lambda v: (lambda r: r[0] if r[0] == r[1] else list(r))(
                v.__dict__["outcome_range"]))
    return list(out.items())


class _Plan:
    def __init__(self, pack: Pack, compiler: Any) -> None:
        self.pack = pack
        rank_of = {lv.id: i for i, lv in enumerate(pack.ladder)}
        self.rules = [_RulePlan(pack, r, compiler, rank_of) for r in pack.rules]
        self.pack_ref = _pack_ref(pack)
        self.refs = [OutcomeRef.model_construct(id=lv.id, label=lv.label, rank=i)
                     for i, lv in enumerate(pack.ladder)]
        self.outcomes = [Outcome.model_construct(id=lv.id, label=lv.label, rank=i, citation=lv.citation)
                         for i, lv in enumerate(pack.ladder)]
        self.action_fields = {a.id: _action_fields(a) for a in pack.actions}
        self.action_order = {a.id: i for i, a in enumerate(pack.actions)}
        self._required: dict[tuple[str, tuple[str, ...]], RequiredAction] = {}

    def required(self, action_id: str, because: list[str]) -> RequiredAction:
        key = (action_id, tuple(because))
        hit = self._required.get(key)
        if hit is None:
            hit = _make(RequiredAction, **self.action_fields[action_id], because=because)
            if len(self._required) < 4096:
                self._required[key] = hit
        return hit


def plan(pack: Pack, compiler: Any) -> _Plan:
    cache = pack._compiled
    p = cache.get("plan") if isinstance(cache, dict) else None
    if p is None:
        p = _Plan(pack, compiler)
        if isinstance(cache, dict):
            cache["plan"] = p
    return p  # type: ignore[no-any-return]


def build(pack: Pack, view: CaseView, match: Match, compiler: Any,
          engine: Literal["compiled", "durable"] = "compiled") -> Decision:
    """Turn a match into a decision. Pure: the same pack, case and match give the same decision."""
    pl = plan(pack, compiler)
    lo, hi = match.outcome_range
    o_truths, a_truths = match.outcome_rules, match.action_rules
    applied: list[AppliedRule] = []
    factors: list[AppliedRule] = []
    actions: dict[str, list[str]] = {}
    undecided: list[_RulePlan] = []
    dims = pack.dimensions
    dims_lo = dict.fromkeys(dims, 0)
    dims_because: dict[str, list[str]] = {d: [] for d in dims}
    dims_cite: dict[str, list[Citation]] = {d: [] for d in dims}

    for rp in pl.rules:  # pack order: deterministic
        rid = rp.rule.id
        t = o_truths.get(rid, False) if rp.rank >= 0 else a_truths.get(rid, False)
        if t is False:
            continue
        if t is None:
            undecided.append(rp)
            continue
        (factors if rp.rule.factor else applied).append(rp.applied(view, True))
        for a in rp.actions:
            actions.setdefault(a, []).append(rid)
        for dim, r in rp.sets:
            if r > dims_lo[dim]:
                dims_because[dim], dims_cite[dim] = [rid], [rp.rule.citation]
                dims_lo[dim] = r
            elif r == dims_lo[dim] and r > 0:
                dims_because[dim].append(rid)
                dims_cite[dim].append(rp.rule.citation)
    dims_hi = dict(dims_lo)

    # An undecided rule matters only if knowing its facts could change the decision: raise the
    # outcome, add an action not already required, or raise a dimension.
    possible: dict[str, tuple[list[str], list[str]]] = {}
    unknowns: dict[str, tuple[int, list[str]]] = {}
    for rp in undecided:
        rank = rp.rank
        new_actions = [a for a in rp.actions if a not in actions]
        raises = [(d, r) for d, r in rp.sets if r > dims_lo[d]]
        if rank <= lo and not new_actions and not raises:
            continue
        unknown = rp.unknown(view)
        for d, r in raises:
            dims_hi[d] = max(dims_hi[d], r)
        for a in new_actions:
            because, facts = possible.setdefault(a, ([], []))
            because.append(rp.rule.id)
            facts.extend(f for f in unknown if f not in facts)
        for f in unknown:
            best, rules = unknowns.get(f, (-1, []))
            unknowns[f] = (max(best, rank) if rank > lo else best, [*rules, rp.rule.id])

    order = pl.action_order
    required = [pl.required(a, because) for a, because in sorted(actions.items(), key=lambda kv: order[kv[0]])]
    pending = [
        _make(PossibleAction, **pl.action_fields[a], because=because, if_known=facts)
        for a, (because, facts) in sorted(possible.items(), key=lambda kv: order[kv[0]])
    ]
    ladder = pack.ladder
    return _make(Decision, 
        case_id=view.case.case_id,
        assessment_date=view.case.assessment_date,
        pack=pl.pack_ref,
        library_version=LIBRARY_VERSION,
        engine=engine,
        outcome=pl.outcomes[lo],
        settled=lo == hi,
        bounds=_make(Bounds, lowest=pl.refs[lo], highest=pl.refs[hi]),
        combination=pack.combination.citation,
        rules=applied,
        actions=required,
        possible_actions=pending,
        unknowns=[
            _make(UnknownFact, fact=f, could_raise_to=ladder[best].id if best >= 0 else None,
                                        rules=rules)
            for f, (best, rules) in unknowns.items()
        ],
        dimensions={
            d: _make(DimensionValue, 
                value=DIMENSIONS[d][dims_lo[d]], lowest=DIMENSIONS[d][dims_lo[d]],
                highest=DIMENSIONS[d][dims_hi[d]], because=dims_because[d], citations=dims_cite[d])
            for d in dims
        },
        factors=factors,
    )


def _pack_ref(pack: Pack) -> PackRef:
    return PackRef(id=pack.id, board=pack.board, version=pack.version, sha256=pack.sha256,
                   source_document=pack.source.document, source_sha256=pack.source.sha256)


def _action_fields(a: Action) -> dict[str, Any]:
    return {"id": a.id, "text": a.text, "kind": a.kind, "who": a.who, "deadline": a.deadline,
            "in_writing": a.in_writing, "citation": a.citation}
