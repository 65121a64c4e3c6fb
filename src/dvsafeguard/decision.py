"""The decision: outcome, bounds, cited rules and actions — and how it is built from a match.

A decision says which outcome the known facts establish (``outcome``), the lowest and highest
outcome still reachable once the unknown facts are known (``bounds``), which unknown facts could
raise it (``unknowns``), every rule that applied with its citation and the facts it used, the
required actions (each cited, with who, when and whether in writing), the actions that would
become required if unknowns resolve badly, the readings of ambiguous text that were applied, and
the pack (id, version, sha256) and library version that produced it.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Iterator
from datetime import date
from itertools import chain
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .conditions import (
    AllOf,
    AnyOf,
    Condition,
    CountTest,
    FactTest,
    NotOf,
    OutcomeTest,
    Truth,
    Value,
    compare,
    count_label,
    walk,
)
from .derive import DERIVED, CaseView
from .engine import Match, cond_key, count_range, memo_get
from .engine import memo_key as new_memo_key
from .pack import DIMENSIONS, Action, Citation, Deadline, Pack, Rule

LIBRARY_VERSION = "0.1.0"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReadOnlyDict(dict[str, Any]):
    """A dict that refuses changes.

    Parts of decisions are shared between decisions (built once, reused), so nothing in a decision
    may be changed in place: its models are frozen, its sequences are tuples and its mappings are
    read-only. A caller that wants to edit takes a copy (``dict(d)``).
    """

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("decisions are read-only; copy the mapping to change it")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only
    __ior__ = _read_only

    def __deepcopy__(self, memo: dict[int, Any]) -> ReadOnlyDict:
        import copy

        return ReadOnlyDict({k: copy.deepcopy(v, memo) for k, v in self.items()})

    def __reduce__(self) -> Any:
        return (ReadOnlyDict, (dict(self),))


class PackRef(_Out):
    id: str
    board: str
    version: str
    sha256: str
    source_document: str
    source_sha256: str
    in_force_from: date
    in_force_to: date | None


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
    reading: Reading | None
    facts: dict[str, Any]
    certain: bool


class RequiredAction(_Out):
    id: str
    text: str
    kind: Literal["must", "should", "consider", "must_not"]
    who: str | None
    deadline: Deadline | None
    in_writing: bool
    citation: Citation
    because: tuple[str, ...]


class PossibleAction(RequiredAction):
    if_known: tuple[str, ...]


class UnknownFact(_Out):
    fact: str
    could_raise_to: str | None
    rules: tuple[str, ...]


class DimensionValue(_Out):
    value: str
    lowest: str
    highest: str
    because: tuple[str, ...]
    citations: tuple[Citation, ...]


class Decision(_Out):
    """A cited decision for one case under one pack version."""

    case_id: str | None
    assessment_date: date
    pack: PackRef
    in_force: bool
    """Whether the pack was in force on the assessment date (``pack.in_force_from`` …
    ``pack.in_force_to``). A decision under a procedure not yet or no longer in force is still made
    — analysts compare versions — but says so."""
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
        return (v[0], v[1]) if v[0] != v[1] else v[0]
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
        used[count_label(cond)] = (lo, hi) if hi != lo else lo
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
        used["outcome"] = _level_range(compiler.pack)(view.__dict__["outcome_range"])
        if compiler.top(cond)(view) is None and "outcome" not in unknown:
            unknown.append("outcome")


def _leaves(cond: Condition) -> list[FactTest]:
    return [leaf for leaf in _top_leaves(cond) if isinstance(leaf, FactTest)]


# --------------------------------------------------------------------------------------------
# Building the decision. Everything that does not depend on the case is prepared once per pack
# (a plan): for every rule, readers of the facts it uses and of the unknown facts it hinges on,
# each leaf (fact test, count, derived fact) read at most once per case (counts and derived facts
# are kept in the case view's memo). Outputs are assembled with ``_make`` from parts validated at
# pack load.
# --------------------------------------------------------------------------------------------


_M = Any
_new = object.__new__
_setattr = object.__setattr__


def _make(cls: type[_M], **fields: Any) -> _M:
    """Assemble an output model from parts that are already valid (checked at pack load).

    Equivalent to ``cls.model_construct(**fields)`` with every field given, without its
    per-call bookkeeping; the decision tests check that every decision validates as a model.
    """
    obj = _new(cls)
    _setattr(obj, "__dict__", fields)
    _setattr(obj, "__pydantic_fields_set__", set(fields))
    _setattr(obj, "__pydantic_extra__", None)
    _setattr(obj, "__pydantic_private__", None)
    return obj


Reader = Callable[[CaseView], Any]
Facts = dict[str, None]
"""Fact names in order without repeats (the keys of a dict: an ordered set)."""
UnknownReader = Callable[[CaseView], Facts]
_NONE: Facts = {}  # the shared empty answer of an unknown reader: never changed
_ABSENT = object()

_CACHE_LIMIT = 1024
"""Most entries kept in each cache of output parts (parts are immutable and shared)."""


class _RulePlan:
    __slots__ = ("rule", "id", "index", "static", "leaves", "raw", "rank", "sets", "actions",
                 "groups", "factor", "citation", "unknown_fn", "outcome_rule", "_applied",
                 "truth", "reads_outcome", "confirmations", "outcome_ok", "simple_confirm",
                 "confirm_unknown_fn")

    def __init__(self, pack: Pack, rule: Rule, index: int, compiler: Any,
                 rank_of: dict[str, int], shared: dict[Any, Any]) -> None:
        self.rule = rule
        self.id = rule.id
        self.index = index
        reading = None
        if rule.reading:
            n = pack.note(rule.reading)
            reading = Reading.model_construct(id=n.id, paragraph=n.paragraph, text=n.text)
        self.static = {"id": rule.id, "title": rule.title, "citation": rule.citation,
                       "outcome": rule.outcome, "sets": ReadOnlyDict(rule.sets), "reading": reading}
        self.leaves = _leaf_readers(rule.when, compiler)
        self.raw = [read for _, read, _ in self.leaves]
        self.rank = rank_of[rule.outcome] if rule.outcome else -1
        self.outcome_rule = rule.outcome is not None
        self.sets = [(d, DIMENSIONS[d].index(v)) for d, v in rule.sets.items()]
        self.actions = rule.actions
        self.groups: list[tuple[int, int]] = []  # (action group, times listed): set by the plan
        self.factor = rule.factor
        self.citation = rule.citation
        self.unknown_fn = _union_reader(_unknown_readers(rule.when, compiler, shared))
        self._applied: dict[Any, AppliedRule] = {}
        # what can change the rule's truth besides unknown facts: the outcome, while it is not
        # settled, and a confirmation fact (never unknown) whose underlying fact is still open
        self.truth = compiler.top(rule.when)
        self.reads_outcome = any(isinstance(n, OutcomeTest) for n in walk(rule.when))
        confirming = list(dict.fromkeys(n.fact for n in walk(rule.when) if isinstance(n, FactTest)
                                        and n.fact in DERIVED and DERIVED[n.fact].kind == "confirmed"))
        self.confirmations = [(compiler._derived_parts(name)[0], _underlying(name, compiler, shared))
                              for name in confirming]

        # the common shape, all[outcome test, fact tests …]: the outcome tests' levels and the
        # confirmation conjuncts say at once whether the rule can change (truths_ahead otherwise)
        parts = rule.when.all if isinstance(rule.when, AllOf) else [rule.when]
        outcome_parts = [c for c in parts if any(isinstance(n, OutcomeTest) for n in walk(c))]
        self.outcome_ok: frozenset[int] | None = None
        if outcome_parts and all(isinstance(c, OutcomeTest) for c in outcome_parts):
            ok = set(range(len(pack.ladder)))
            for c in outcome_parts:
                assert isinstance(c, OutcomeTest)
                lo_b, hi_b, allowed = compiler.outcome_bounds(c)
                ok &= {r for r in range(lo_b, hi_b + 1) if allowed is None or r in allowed}
            self.outcome_ok = frozenset(ok)
        self.simple_confirm = all(isinstance(c, FactTest) for c in parts
                                  if any(isinstance(n, FactTest) and n.fact in confirming for n in walk(c)))
        # the unknown facts a confirmation still waits for (the children, the pregnancy …)
        self.confirm_unknown_fn = _union_reader(
            [r for name in confirming for r in _unknown_readers(DERIVED[name].definition, compiler, shared)])

    def certain(self, view: CaseView, rng: tuple[int, int]) -> bool:
        """For a rule that holds now: whether it holds whatever the unknown facts turn out to be."""
        lo, hi = rng
        if self.reads_outcome and lo != hi:
            if self.outcome_ok is None:
                return self.truths_ahead(view, rng) == {True}
            if not all(r in self.outcome_ok for r in range(lo, hi + 1)):
                return False
        if self.confirmations and any(underlying(view) is None for _, underlying in self.confirmations):
            # a conjunct on a confirmation still open (it holds now, so it reads "not confirmed")
            return False if self.simple_confirm else self.truths_ahead(view, rng) == {True}
        return True

    @contextlib.contextmanager
    def _open_confirmations(self, view: CaseView) -> Iterator[bool]:
        """Read every confirmation fact whose underlying fact is still open as unknown, for the
        duration of the block; yields whether there was any."""
        memo = view.memo
        saved = [(key, memo.get(key, _ABSENT)) for key, underlying in self.confirmations
                 if underlying(view) is None]
        try:
            for key, _ in saved:
                memo[key] = None
            yield bool(saved)
        finally:
            for key, value in saved:
                if value is _ABSENT:
                    del memo[key]
                else:
                    memo[key] = value

    def truths_ahead(self, view: CaseView, rng: tuple[int, int]) -> set[Truth]:
        """The rule's truth in each outcome still reachable, open confirmations read as unknown:
        what the rule may yet be once the unknown facts are known."""
        ranks = range(rng[0], rng[1] + 1) if self.reads_outcome else (None,)
        old_rng = view.__dict__["outcome_range"]
        out: set[Truth] = set()
        with self._open_confirmations(view):
            try:
                for r in ranks:
                    if r is not None:
                        view.__dict__["outcome_range"] = (r, r)
                    out.add(self.truth(view))
            finally:
                view.__dict__["outcome_range"] = old_rng
        return out

    def could_hold(self, view: CaseView) -> bool:
        """For a rule that does not hold now: whether a confirmation still open could make it hold
        (its other parts as they are, the outcome anywhere in its bounds)."""
        with self._open_confirmations(view) as any_open:
            return any_open and self.truth(view) is not False

    def unknown(self, view: CaseView) -> Facts:
        """The unknown facts the rule hinges on, in condition order (not to be changed)."""
        return self.unknown_fn(view)

    def applied(self, view: CaseView, certain: bool) -> AppliedRule:
        """The rule as applied, with the facts it used (equal facts give the same shared part)."""
        raw = self.raw
        values = [raw[0](view)] if len(raw) == 1 else [read(view) for read in raw]
        key: tuple[Any, ...] | None = (*values, certain)
        try:
            hit = self._applied.get(key)
        except TypeError:  # an unhashable value: nothing to share
            key, hit = None, None
        if hit is None:
            facts = {name: to_json(value)
                     for (name, _, to_json), value in zip(self.leaves, values, strict=True)}
            hit = _make(AppliedRule, **self.static, facts=ReadOnlyDict(facts), certain=certain)
            if key is not None and len(self._applied) < _CACHE_LIMIT:
                self._applied[key] = hit
        return hit


def _underlying(name: str, compiler: Any, shared: dict[Any, Any]) -> Callable[[CaseView], Truth]:
    """The three-valued truth behind a confirmation fact (memoised per case view, shared)."""
    fn = shared.get(("underlying", name))
    if fn is None:
        fn = shared[("underlying", name)] = memo_get(new_memo_key(), compiler.top(DERIVED[name].definition))
    return fn


def _unknown_readers(cond: Condition, compiler: Any,
                     shared: dict[Any, Any]) -> list[UnknownReader]:
    """For each leaf of a condition, a function giving the unknown facts it hinges on.

    Prepared once per pack; equal leaves share one reader (``shared``), and the readers of counts
    and derived facts keep their answer in the case view's memo. The answer of ``explain``.
    """
    readers = [_unknown_reader(node, compiler, shared) for node in _top_leaves(cond)]
    return [r for r in readers if r is not _never_unknown]


def _never_unknown(v: CaseView) -> Facts:
    return _NONE


def _union_reader(readers: list[UnknownReader]) -> UnknownReader:
    """One reader for the unknown facts of several leaves, in order, without repeats."""
    if not readers:
        return _never_unknown
    if len(readers) == 1:
        return readers[0]
    if len(readers) == 2:
        first, second = readers

        def both(v: CaseView) -> Facts:
            a = first(v)
            b = second(v)
            return (a | b if b else a) if a else b  # dict union keeps the order of first sight
        return both

    def union(v: CaseView) -> Facts:
        found = [u for u in [read(v) for read in readers] if u]
        if not found:
            return _NONE
        if len(found) == 1:
            return found[0]
        return dict.fromkeys(chain.from_iterable(found))
    return union


def _unknown_reader(node: Condition, compiler: Any, shared: dict[Any, Any]) -> UnknownReader:
    if isinstance(node, FactTest):
        op, bound = node.op()
        key: Any = ("fact", node.fact, op, repr(bound))
    elif isinstance(node, CountTest):
        key = ("count", node.count, cond_key(node.where), node.within_months,
               node.at_least is not None)
    else:
        key = ("other", cond_key(node))
    hit = shared.get(key)
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    reader: UnknownReader
    derived = DERIVED.get(node.fact) if isinstance(node, FactTest) else None
    if derived is not None and derived.kind == "confirmed":
        # true or false, never unknown (a bool compares to a bound as true or false)
        reader = _never_unknown
    elif derived is not None:
        sub = _unknown_readers(derived.definition, compiler, shared)
        get = compiler.value_fn(derived.name)
        memo_key = new_memo_key()
        truth_valued = derived.kind == "bool"  # True / False / None

        def derived_unknown(v: CaseView) -> Facts:
            value = get(v)
            if value is not None if truth_valued else compare(op, value, bound) is not None:
                return _NONE
            memo = v.memo
            out: Facts | None = memo.get(memo_key)
            if out is None:
                out = memo[memo_key] = dict.fromkeys(chain.from_iterable([r(v) for r in sub]))
            return out

        reader = derived_unknown
    elif isinstance(node, FactTest):
        getter = operator.attrgetter(node.fact)
        one = {node.fact: None}

        def fact(v: CaseView) -> Facts:
            # a case fact is a scalar: unknown exactly when it is None
            x = getter(v.case)
            if x is None or (type(x) is tuple and compare(op, x, bound) is None):
                return one
            return _NONE

        reader = fact
    elif isinstance(node, CountTest):
        reader = _count_unknowns(node)
    elif isinstance(node, OutcomeTest):
        truth = compiler.top(node)
        outcome: Facts = {"outcome": None}
        n = len(compiler.pack.ladder)
        probe = CaseView.__new__(CaseView)
        answers: dict[Any, Facts] = {}
        for rng in [(lo, hi) for lo in range(n) for hi in range(lo, n)]:
            probe.__dict__["outcome_range"] = rng
            answers[rng] = outcome if truth(probe) is None else _NONE

        def outcome_unknown(v: CaseView) -> Facts:
            rng = v.__dict__["outcome_range"]
            hit = answers.get(rng)
            if hit is None:
                return outcome if truth(v) is None else _NONE
            return hit

        reader = outcome_unknown
    else:  # pragma: no cover - only leaves reach here
        raise TypeError(type(node))
    shared[key] = reader
    return reader


def _count_unknowns(node: CountTest) -> UnknownReader:
    """What keeps a count open: the list itself, items' unknown fields and dates, completeness."""
    collection = node.count
    leaves = _leaves(node.where) if node.where is not None else []
    tests = [(leaf.fact, *leaf.op()) for leaf in leaves]
    window = node.within_months is not None
    flag = f"{collection}_complete" if node.at_least is not None else None
    memo_key = new_memo_key()
    whole: Facts = {collection: None}

    def compute(v: CaseView) -> Facts:
        items, complete = v.items(collection)
        if items is None:
            return whole
        out: Facts = {}
        if tests:
            for i, item in enumerate(items):
                for fact, op, bound in tests:
                    if compare(op, item.get(fact), bound) is None:
                        out[f"{collection}[{i}].{fact}"] = None
        if window:
            for i, item in enumerate(items):
                if item.get("date") is None:
                    out[f"{collection}[{i}].date"] = None
        if complete is not True and flag is not None:
            out[flag] = None
        return out or _NONE

    def counted(v: CaseView) -> Facts:
        memo = v.memo
        out: Facts | None = memo.get(memo_key)
        if out is None:
            out = memo[memo_key] = compute(v)
        return out

    return counted


def _top_leaves(cond: Condition) -> list[Condition]:
    if isinstance(cond, AllOf | AnyOf):
        out: list[Condition] = []
        for c in cond.all if isinstance(cond, AllOf) else cond.any:
            out.extend(_top_leaves(c))
        return out
    if isinstance(cond, NotOf):
        return _top_leaves(cond.not_)
    return [cond]


def _outcome_range(v: CaseView) -> Any:
    return v.__dict__["outcome_range"]


def _range_json(r: Any) -> Any:
    lo, hi = r
    return lo if lo == hi else (lo, hi)


def _leaf_readers(cond: Condition, compiler: Any) -> list[tuple[str, Reader, Callable[[Any], Any]]]:
    """(key, reader, to JSON) for each fact a condition reads, to report the facts a rule used."""
    out: dict[str, tuple[Reader, Callable[[Any], Any]]] = {}
    stack = [cond]
    while stack:
        node = stack.pop(0)
        if isinstance(node, AllOf | AnyOf):
            stack[0:0] = list(node.all if isinstance(node, AllOf) else node.any)
        elif isinstance(node, NotOf):
            stack.insert(0, node.not_)
        elif isinstance(node, FactTest) and node.fact not in out:
            out[node.fact] = (compiler.value_fn(node.fact), _json_value)
        elif isinstance(node, CountTest):
            out.setdefault(count_label(node), (compiler.count_fn(node), _range_json))
        elif isinstance(node, OutcomeTest):
            out.setdefault("outcome", (_outcome_range, _level_range(compiler.pack)))
    return [(key, read, to_json) for key, (read, to_json) in out.items()]


def _level_range(pack: Pack) -> Callable[[Any], Any]:
    """The outcome as a rule read it: a level id, or the (lowest, highest) ids while unsettled."""
    ids = [lv.id for lv in pack.ladder]

    def to_json(r: Any) -> Any:
        lo, hi = r
        return ids[lo] if lo == hi else (ids[lo], ids[hi])

    return to_json


class _Plan:
    """What a pack's decisions are built from, prepared once per pack.

    Actions listed by exactly the same rules form a group: they are required, or possible, for
    the same rules, so a decision handles each group once. Output parts (a rule as applied with
    the facts it used, a group's required or possible actions, an unknown fact, a dimension value)
    are immutable models; equal parts are built once and shared between decisions (at most
    ``_CACHE_LIMIT`` of each kind are kept).
    """

    def __init__(self, pack: Pack, compiler: Any) -> None:
        self.pack = pack
        rank_of = {lv.id: i for i, lv in enumerate(pack.ladder)}
        shared: dict[Any, Any] = {}
        self.rules = [_RulePlan(pack, r, i, compiler, rank_of, shared)
                      for i, r in enumerate(pack.rules)]
        self.pack_ref = _pack_ref(pack)
        self.in_force_from, self.in_force_to = pack.in_force.from_, pack.in_force.to
        self.refs = [OutcomeRef.model_construct(id=lv.id, label=lv.label, rank=i)
                     for i, lv in enumerate(pack.ladder)]
        self.outcomes = [Outcome.model_construct(id=lv.id, label=lv.label, rank=i,
                                                 citation=lv.citation)
                         for i, lv in enumerate(pack.ladder)]
        n = len(pack.ladder)
        self.bounds = {(lo, hi): Bounds.model_construct(lowest=self.refs[lo], highest=self.refs[hi])
                       for lo in range(n) for hi in range(n)}
        self.level_ids = [lv.id for lv in pack.ladder]
        self.dims = list(pack.dimensions)
        self.combination = pack.combination.citation
        self.citation_of = {r.id: r.citation for r in pack.rules}
        self.action_fields = {a.id: _action_fields(a) for a in pack.actions}
        order = {a.id: i for i, a in enumerate(pack.actions)}

        # action groups: actions listed by the same rules (the same number of times each)
        listed_by: dict[str, list[int]] = {}
        for rp in self.rules:
            for a in rp.actions:
                listed_by.setdefault(a, []).append(rp.index)
        group_of: dict[tuple[int, ...], int] = {}
        members: list[list[str]] = []
        for a, by in listed_by.items():
            g = group_of.setdefault(tuple(by), len(group_of))
            if g == len(members):
                members.append([])
            members[g].append(a)
        unlisted = len(order)
        self.members = [sorted(m, key=lambda a: order.get(a, unlisted)) for m in members]
        self.member_order = [[order.get(a, unlisted) for a in m] for m in self.members]
        for rp in self.rules:
            times: dict[int, int] = {}
            for a in rp.actions:
                g = group_of[tuple(listed_by[a])]
                times[g] = times.get(g, 0) + 1
            # each member of a group is listed the same number of times by each of its rules
            rp.groups = [(g, t // len(self.members[g])) for g, t in times.items()]

        self._required: dict[tuple[int, tuple[str, ...]], list[tuple[int, RequiredAction]]] = {}
        self._possible: dict[tuple[int, tuple[str, ...], tuple[str, ...]],
                             list[tuple[int, PossibleAction]]] = {}
        self._unknown: dict[tuple[str, int, tuple[str, ...]], UnknownFact] = {}
        self._dimension: dict[tuple[str, int, int, int, tuple[str, ...]], DimensionValue] = {}

    def required(self, group: int, because: list[str]) -> list[tuple[int, RequiredAction]]:
        """The required actions of a group with their order in the pack."""
        key = (group, tuple(because))
        hit = self._required.get(key)
        if hit is None:
            hit = [(i, _make(RequiredAction, **self.action_fields[a], because=tuple(because)))
                   for i, a in zip(self.member_order[group], self.members[group], strict=True)]
            if len(self._required) < _CACHE_LIMIT:
                self._required[key] = hit
        return hit

    def possible(self, group: int, because: list[str],
                 facts: Facts) -> list[tuple[int, PossibleAction]]:
        """The possible actions of a group with their order in the pack."""
        key = (group, tuple(because), tuple(facts))
        hit = self._possible.get(key)
        if hit is None:
            hit = [(i, _make(PossibleAction, **self.action_fields[a], because=tuple(because),
                             if_known=tuple(facts)))
                   for i, a in zip(self.member_order[group], self.members[group], strict=True)]
            if len(self._possible) < _CACHE_LIMIT:
                self._possible[key] = hit
        return hit

    def unknown(self, fact: str, best: int, rules: list[str]) -> UnknownFact:
        key = (fact, best, tuple(rules))
        hit = self._unknown.get(key)
        if hit is None:
            raise_to = self.level_ids[best] if best >= 0 else None
            hit = _make(UnknownFact, fact=fact, could_raise_to=raise_to, rules=tuple(rules))
            if len(self._unknown) < _CACHE_LIMIT:
                self._unknown[key] = hit
        return hit

    def dimension(self, dim: str, floor: int, value: int, hi: int, because: list[str]) -> DimensionValue:
        key = (dim, floor, value, hi, tuple(because))
        hit = self._dimension.get(key)
        if hit is None:
            values = DIMENSIONS[dim]
            hit = _make(DimensionValue, value=values[value], lowest=values[floor], highest=values[hi],
                        because=tuple(because), citations=tuple(self.citation_of[r] for r in because))
            if len(self._dimension) < _CACHE_LIMIT:
                self._dimension[key] = hit
        return hit


def _private(pack: Pack) -> Any:
    """``pack._compiled`` without pydantic's slow lookup of private attributes."""
    private = pack.__pydantic_private__
    return private.get("_compiled") if private is not None else pack._compiled


def plan(pack: Pack, compiler: Any) -> _Plan:
    cache = _private(pack)
    p = cache.get("plan") if isinstance(cache, dict) else None
    if p is None:
        p = _Plan(pack, compiler)
        if isinstance(cache, dict):
            cache["plan"] = p
    return p


def _in_order(parts: list[list[tuple[int, _M]]]) -> list[_M]:
    """The parts of several action groups, in the pack's order of actions."""
    if len(parts) <= 1:
        return [x for _, x in parts[0]] if parts else []
    return [x for _, x in sorted(chain.from_iterable(parts), key=_first)]


_first = operator.itemgetter(0)


def build(pack: Pack, view: CaseView, match: Match, compiler: Any,
          engine: Literal["compiled", "durable"] = "compiled") -> Decision:
    """Turn a match into a decision. Pure: the same pack, case and match give the same decision."""
    pl = plan(pack, compiler)
    rng = match.outcome_range
    lo, hi = rng
    view.__dict__["outcome_range"] = rng
    o_truths, a_truths = match.outcome_rules, match.action_rules
    applied: list[AppliedRule] = []
    factors: list[AppliedRule] = []
    required: dict[int, list[str]] = {}  # action group → the certain rules that require it
    undecided: list[_RulePlan] = []
    dims = pl.dims
    dims_lo = dict.fromkeys(dims, 0)  # the value the known facts establish
    dims_floor = dict.fromkeys(dims, 0)  # the lowest it can become once unknowns are known
    dims_because: dict[str, list[str]] = {d: [] for d in dims}
    awaiting: set[int] = set()  # false rules that an open confirmation could still make hold

    truths = match.truths
    if truths is None:
        truths = [(o_truths if rp.outcome_rule else a_truths).get(rp.id, False) for rp in pl.rules]
    for rp, t in zip(pl.rules, truths, strict=True):  # pack order: deterministic
        if t is False:
            if rp.confirmations and (rp.sets or rp.groups) and rp.could_hold(view):
                undecided.append(rp)  # e.g. 9.6.1 while the children could still be confirmed absent
                awaiting.add(rp.index)
            continue
        rid = rp.id
        if t is None:
            undecided.append(rp)
            continue
        (factors if rp.factor else applied).append(rp.applied(view, True))
        for g, times in rp.groups:
            because = required.get(g)
            if because is None:
                required[g] = [rid] * times
            elif times == 1:
                because.append(rid)
            else:
                because.extend([rid] * times)
        if rp.sets:
            certain = rp.certain(view, rng)
            for dim, r in rp.sets:
                if r > dims_lo[dim]:
                    dims_because[dim] = [rid]
                    dims_lo[dim] = r
                elif r == dims_lo[dim] and r > 0:
                    dims_because[dim].append(rid)
                if certain and r > dims_floor[dim]:
                    dims_floor[dim] = r
    dims_hi = dict(dims_lo)

    # An undecided rule matters only if knowing its facts could change the decision: raise the
    # outcome, add an action not already required, or raise a dimension.
    possible: dict[int, tuple[list[str], Facts]] = {}
    unknowns: dict[str, list[Any]] = {}
    for rp in undecided:
        rank = rp.rank
        groups = rp.groups
        if len(groups) == 1:
            new = groups if groups[0][0] not in required else ()
        else:
            new = [gt for gt in groups if gt[0] not in required] if groups else ()
        raises = [(d, r) for d, r in rp.sets if r > dims_lo[d]] if rp.sets else None
        if rank <= lo and not new and not raises:
            continue
        rid = rp.id
        unknown = rp.unknown_fn(view)
        if awaiting and rp.index in awaiting:
            unknown = dict.fromkeys(chain(unknown, rp.confirm_unknown_fn(view)))
        if raises:
            for d, r in raises:
                if r > dims_hi[d]:
                    dims_hi[d] = r
        for g, times in new:
            entry = possible.get(g)
            if entry is None:
                possible[g] = ([rid] * times, dict(unknown))
            else:
                if times == 1:
                    entry[0].append(rid)
                else:
                    entry[0].extend([rid] * times)
                entry[1].update(unknown)
        raise_to = rank if rank > lo else -1
        for f in unknown:
            u = unknowns.get(f)
            if u is None:
                unknowns[f] = [raise_to, [rid]]
            else:
                if raise_to > u[0]:
                    u[0] = raise_to
                u[1].append(rid)

    required_cache, possible_cache, unknown_cache = pl._required, pl._possible, pl._unknown
    decision: Decision = _make(
        Decision,
        case_id=view.case.case_id,
        assessment_date=view.case.assessment_date,
        pack=pl.pack_ref,
        in_force=pl.in_force_from <= view.case.assessment_date
        and (pl.in_force_to is None or view.case.assessment_date <= pl.in_force_to),
        library_version=LIBRARY_VERSION,
        engine=engine,
        outcome=pl.outcomes[lo],
        settled=lo == hi,
        bounds=pl.bounds[rng],
        combination=pl.combination,
        rules=applied,
        actions=_in_order([required_cache.get((g, tuple(because))) or pl.required(g, because)
                           for g, because in required.items()]),
        possible_actions=_in_order([
            possible_cache.get((g, tuple(because), tuple(facts))) or pl.possible(g, because, facts)
            for g, (because, facts) in possible.items()]),
        unknowns=[unknown_cache.get((f, best, tuple(rules))) or pl.unknown(f, best, rules)
                  for f, (best, rules) in unknowns.items()],
        dimensions={d: pl.dimension(d, dims_floor[d], dims_lo[d], dims_hi[d], dims_because[d]) for d in dims},
        factors=factors,
    )
    return decision


def _pack_ref(pack: Pack) -> PackRef:
    return PackRef(id=pack.id, board=pack.board, version=pack.version, sha256=pack.sha256,
                   source_document=pack.source.document, source_sha256=pack.source.sha256,
                   in_force_from=pack.in_force.from_, in_force_to=pack.in_force.to)


def _action_fields(a: Action) -> dict[str, Any]:
    return {"id": a.id, "text": a.text, "kind": a.kind, "who": a.who, "deadline": a.deadline,
            "in_writing": a.in_writing, "citation": a.citation}
