"""Property testing for rule packs: hypothesis strategies for cases and the checks every pack
must pass.

For policy authors::

    from hypothesis import given
    from dvsafeguard.testing import cases, refine, check_pack

    report = check_pack("london", max_examples=200)
    assert report.ok, report.format()

Strategies
    :func:`cases` generates valid :class:`~dvsafeguard.facts.Case` objects, assessed on dates the
    pack is in force (when a pack is given) — children whose ages
    (date of birth, months, years, unborn or unknown) sit around the 12-month and 7-year edges
    on the assessment date, incidents dated around the 12-month window, matrix ticks,
    assessments, and every yes/no fact true, false or unknown (``None``); some cases have every
    fact known, some every yes/no fact true (so that as many rules as possible apply at once).
    Given a pack, only the facts the pack reads are generated, which keeps counterexamples
    small.
    :func:`refine` generates cases that resolve some of a case's unknown facts (and nothing
    else): an unknown fact gets a value, an unknown list becomes a list, a list not known to be
    complete may gain items.

Built-in checks (:func:`check_pack`)
    ``monotone``       setting a fact of the pack's ``risk_facts`` from unknown/false to true
                       never lowers the outcome (derived facts are made true by changing the
                       facts they are defined from);
    ``bounds``         resolving unknowns keeps the outcome within the reported bounds
                       ``[lowest, highest]``, the new bounds within the old ones, and each
                       dimension's value within its reported ``lowest`` and ``highest``;
    ``deterministic``  the same case gives the same decision — evaluated twice, from a copy,
                       and by a freshly compiled pack;
    ``engines``        the compiled and durable-rules engines agree (``Decision.comparable``);
    ``invariants``     each of the pack's declared invariants: where ``given`` holds, the
                       outcome respects ``outcome_at_least`` / ``outcome_at_most``;
    ``reachable``      every rule applies and every ladder level is the outcome for some case
                       (a witness is searched for each).

Counterexamples are shrunk by hypothesis and printed as YAML ready to paste into the pack's
``.tests.yaml`` (a ``name`` / ``case`` / ``expect`` block).
"""

from __future__ import annotations

import functools
import math
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from hypothesis import HealthCheck, Phase, Verbosity, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from pydantic import BaseModel, ValidationError

from .conditions import (
    AllOf,
    AnyOf,
    Condition,
    CountTest,
    FactTest,
    NotOf,
    OutcomeTest,
    Truth,
    months_before,
)
from .decision import Decision
from .derive import DERIVED, CaseView, FactInfo, case_facts, item_facts
from .engine import _Compiler
from .evaluate import evaluate
from .facts import Case, Child, Incident, MatrixTick
from .pack import DIMENSIONS, Pack, load_pack, load_pack_file

CHECKS = ("monotone", "bounds", "deterministic", "engines", "invariants", "reachable")
"""The built-in checks, in the order :func:`check_pack` runs them."""

Draw = Callable[..., Any]
"""A draw function: ``draw`` of a composite strategy or ``data.draw`` inside a test."""

_LISTS = ("children", "incidents", "matrix")
_ITEM_MODELS: dict[str, type[BaseModel]] = {"children": Child, "incidents": Incident,
                                            "matrix": MatrixTick}
_AGE_KEYS = ("date_of_birth", "age_years", "age_months", "unborn")
_STRUCTURAL = {"children": _AGE_KEYS, "incidents": ("date",), "matrix": ("scale", "category")}
_EDGE_DATES = [date(2009, 1, 10), date(2012, 2, 29), date(2016, 2, 29), date(2009, 3, 31),
               date(2010, 12, 31), date(2011, 1, 31), date(2019, 3, 1), date(2020, 2, 29)]


# --------------------------------------------------------------------------------------------
# What a pack reads
# --------------------------------------------------------------------------------------------


@dataclass
class Reads:
    """The facts a pack reads: top-level paths and, per list, the item fields."""

    top: set[str] = field(default_factory=set)
    items: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in _LISTS})
    lists: set[str] = field(default_factory=set)

    def add(self, cond: Condition, collection: str | None = None) -> None:
        if isinstance(cond, AllOf):
            for c in cond.all:
                self.add(c, collection)
        elif isinstance(cond, AnyOf):
            for c in cond.any:
                self.add(c, collection)
        elif isinstance(cond, NotOf):
            self.add(cond.not_, collection)
        elif isinstance(cond, FactTest):
            if collection is not None:
                self.items[collection].add(cond.fact)
            elif cond.fact in DERIVED:
                if cond.fact not in self.top:
                    self.top.add(cond.fact)
                    self.add(DERIVED[cond.fact].definition)
            else:
                self.top.add(cond.fact)
        elif isinstance(cond, CountTest):
            self.lists.add(cond.count)
            if cond.count == "children":
                self.top.add("children_complete")
            if cond.count == "incidents":
                self.top.add("incidents_complete")
            if cond.where is not None:
                self.add(cond.where, cond.count)

    def add_fact(self, path: str) -> None:
        self.add(FactTest.model_validate({"fact": path, "is": True}))


def pack_reads(pack: Pack | None) -> Reads | None:
    """The facts ``pack`` reads (rules, invariants, risk facts); None for every fact."""
    if pack is None:
        return None
    reads = Reads()
    for rule in pack.rules:
        reads.add(rule.when)
    for inv in pack.invariants:
        reads.add(inv.given)
    for fact in pack.risk_facts:
        reads.add_fact(fact)
    return reads


# --------------------------------------------------------------------------------------------
# Values of one field
# --------------------------------------------------------------------------------------------


def _target(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else None
    return annotation


@functools.cache
def _value_strategy(model: type[BaseModel], name: str) -> st.SearchStrategy[Any] | None:
    """Known values of a scalar field (bool, enum, bounded int); None for other fields."""
    f = model.model_fields[name]
    t = _target(f.annotation)
    if t is bool:
        return st.booleans()
    if get_origin(t) is Literal:
        return st.sampled_from(get_args(t))
    if t is int:
        lo = next((m.ge for m in f.metadata if hasattr(m, "ge")), 0)
        hi = next((m.le for m in f.metadata if hasattr(m, "le")), lo + 20)
        return st.integers(int(lo), int(hi))
    return None


MIXED, KNOWN, SATURATED = 0, 1, 2
"""Profiles of generated cases: each fact unknown or known (mixed); every fact known; every
yes/no fact true (as many rules as possible apply at once). Hypothesis shrinks towards mixed."""
PROFILES = st.sampled_from([MIXED, KNOWN, SATURATED])


@functools.cache
def _tri_strategy(model: type[BaseModel], name: str, profile: int = MIXED
                  ) -> st.SearchStrategy[Any]:
    """A field's value under a profile: unknown (``None``, shrunk to) or known; known; true."""
    known = typing.cast(st.SearchStrategy[Any], _value_strategy(model, name))
    if profile == KNOWN:
        return known
    if profile == SATURATED:
        return st.just(True) if _target(model.model_fields[name].annotation) is bool else known
    return st.one_of(st.none(), known)


@functools.cache
def _index(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


def _pick(draw: Draw, options: Sequence[Any]) -> Any:
    return options[draw(_index(len(options)))] if len(options) > 1 else options[0]


_GROUPS: dict[str, type[BaseModel]] = {
    name: typing.cast(type[BaseModel], _target(f.annotation))
    for name, f in Case.model_fields.items()
    if isinstance(_target(f.annotation), type) and issubclass(_target(f.annotation), BaseModel)
}


def _group_fields(group: str, reads: Reads | None) -> list[str]:
    model = _GROUPS[group]
    return [n for n in model.model_fields
            if (reads is None or f"{group}.{n}" in reads.top)
            and _value_strategy(model, n) is not None]


def _item_fields(collection: str, reads: Reads | None) -> list[str]:
    model = _ITEM_MODELS[collection]
    return [n for n in model.model_fields
            if n not in _STRUCTURAL[collection] and n not in ("name", "description")
            and (reads is None or n in reads.items[collection])
            and _value_strategy(model, n) is not None]


def _valid_item(collection: str, item: dict[str, Any]) -> dict[str, Any]:
    """The item if it validates, else only its structural fields (always consistent)."""
    try:
        _ITEM_MODELS[collection].model_validate(item)
        return item
    except ValidationError:
        return {k: v for k, v in item.items() if k in _STRUCTURAL[collection]}


def _valid_group(group: str, values: dict[str, Any]) -> dict[str, Any]:
    try:
        _GROUPS[group].model_validate(values)
        return values
    except ValidationError:
        return {}


# --------------------------------------------------------------------------------------------
# Strategies. Dates are drawn relative to the assessment date (offsets), so every strategy is
# built once per pack and hypothesis shrinks towards few, simple facts.
# --------------------------------------------------------------------------------------------

_BOOL = st.booleans()
_TRI_BOOL = st.sampled_from([None, True, False])
_RATE = st.integers(1, 3)
_D4 = st.integers(0, 3)
_OFFSET = st.integers(-3, 3)
_MONTHS_OFFSET = st.integers(0, 11)
_AGE_SPEC: st.SearchStrategy[tuple[str, int]] = st.one_of(
    st.just(("unknown", 0)),
    st.tuples(st.just("years"), st.one_of(st.sampled_from([0, 1, 6, 7]), st.integers(0, 17))),
    st.tuples(st.just("months"), st.one_of(st.integers(10, 13), st.integers(82, 86),
                                           st.integers(0, 215))),
    st.just(("unborn", 0)),
    st.tuples(st.just("dob_12"), _OFFSET),
    st.tuples(st.just("dob_84"), _OFFSET),
    st.tuples(st.just("dob"), st.integers(0, 18 * 365)),
    st.just(("born", 0)),
)
_DATE_SPEC: st.SearchStrategy[tuple[str, int]] = st.one_of(
    st.just(("unknown", 0)),
    st.tuples(st.just("recent"), st.integers(0, 400)),
    st.tuples(st.just("edge_12"), _OFFSET),
    st.tuples(st.just("old"), st.integers(366, 3000)),
)
_TICK = st.fixed_dictionaries({
    "scale": st.integers(1, 4),
    "category": st.sampled_from(["evidence", "risk_factor", "protective_factor"]),
})


def assessment_dates(start: date = date(2008, 1, 1), end: date = date(2027, 12, 31)
                     ) -> st.SearchStrategy[date]:
    """Assessment dates from ``start`` to ``end``, with month ends and leap days over-represented."""
    edges = [d for d in _EDGE_DATES if start <= d <= end] or [start, end]
    return st.one_of(st.sampled_from(edges), st.dates(start, end))


def _in_force_dates(pack: Pack | None) -> st.SearchStrategy[date]:
    """Assessment dates on which the pack is in force (any date for no pack)."""
    if pack is None:
        return _ASSESSMENT_DATES
    start = pack.in_force.from_
    end = pack.in_force.to or max(date(2027, 12, 31), start.replace(year=start.year + 10, day=1))
    return assessment_dates(start, end)


_ASSESSMENT_DATES = assessment_dates()


def _shift(d: date, days: int, on: date) -> date:
    return min(d + timedelta(days=days), on)


def _age_fields(spec: tuple[str, int], on: date) -> dict[str, Any]:
    """How a child's age is known: around 12 months and 7 years, anything, unborn, unknown."""
    mode, n = spec
    if mode == "dob_12":
        return {"date_of_birth": _shift(months_before(on, 12), n, on)}
    if mode == "dob_84":
        return {"date_of_birth": _shift(months_before(on, 84), n, on)}
    if mode == "dob":
        return {"date_of_birth": on - timedelta(days=n)}
    if mode == "months":
        return {"age_months": n}
    if mode == "years":
        return {"age_years": n}
    if mode == "unborn":
        return {"unborn": True}
    if mode == "born":
        return {"unborn": False}
    return {}


def _incident_day(spec: tuple[str, int], on: date) -> date | None:
    mode, n = spec
    if mode == "edge_12":
        return _shift(months_before(on, 12), n, on)
    if mode in ("recent", "old"):
        return on - timedelta(days=n)
    return None


class _Plan:
    """The strategies for one pack's facts, built once."""

    def __init__(self, reads: Reads | None, dates: st.SearchStrategy[date] | None = None) -> None:
        self.reads = reads
        self.dates = dates if dates is not None else _ASSESSMENT_DATES
        self.group_fields = {g: _group_fields(g, reads) for g in _GROUPS}
        self.item_fields = {c: _item_fields(c, reads) for c in _LISTS}
        self.wants = {c: reads is None or c in reads.lists for c in _LISTS}
        self.area = reads is None or "area" in reads.top
        self.child = self._item("children", _AGE_SPEC)
        self.incident = self._item("incidents", _DATE_SPEC)
        children = {p: st.lists(self._item("children", _AGE_SPEC, p), min_size=1, max_size=4)
                    for p in (MIXED, KNOWN, SATURATED)}
        incidents = {p: st.lists(self._item("incidents", _DATE_SPEC, p), max_size=4)
                     for p in (MIXED, KNOWN, SATURATED)}
        self.children = {MIXED: st.one_of(st.none(), st.just([]), children[MIXED]),
                         KNOWN: st.one_of(st.just([]), children[KNOWN]),
                         SATURATED: children[SATURATED]}
        self.incidents = {MIXED: st.one_of(st.none(), incidents[MIXED]),
                          KNOWN: incidents[KNOWN], SATURATED: incidents[SATURATED]}
        self.matrix = {MIXED: st.one_of(st.none(), st.lists(_TICK, max_size=4)),
                       KNOWN: st.lists(_TICK, max_size=4),
                       SATURATED: st.lists(_TICK, min_size=1, max_size=4)}
        self.new_items = {"children": st.one_of(st.just([]), st.lists(self.child, max_size=3)),
                          "incidents": st.one_of(st.just([]), st.lists(self.incident, max_size=3))}
        self.more_items = {"children": st.lists(self.child, min_size=1, max_size=2),
                           "incidents": st.lists(self.incident, min_size=1, max_size=2)}
        self.new_matrix = st.lists(_TICK, max_size=3)

    def _item(self, collection: str, spec: st.SearchStrategy[tuple[str, int]],
              profile: int = MIXED) -> st.SearchStrategy[dict[str, Any]]:
        model = _ITEM_MODELS[collection]
        fields = self.item_fields[collection]

        @st.composite
        def item(draw: st.DrawFn) -> dict[str, Any]:
            out: dict[str, Any] = {"__spec__": draw(spec)}
            for name in fields:
                out[name] = draw(_tri_strategy(model, name, profile))
            return out

        return item()


def _place(collection: str, raw: dict[str, Any], on: date) -> dict[str, Any]:
    """A drawn item with its age or date computed from the assessment date, validated."""
    item = {k: v for k, v in raw.items() if k != "__spec__"}
    spec = raw.get("__spec__")
    if spec is not None:
        if collection == "children":
            item.update(_age_fields(spec, on))
        else:
            item["date"] = _incident_day(spec, on)
    return _valid_item(collection, item)


def _draw_case(draw: Draw, plan: _Plan) -> Case:
    on: date = draw(plan.dates)
    profile: int = draw(PROFILES)
    data: dict[str, Any] = {"assessment_date": on}
    complete = _TRI_BOOL if profile == MIXED else _BOOL if profile == KNOWN else st.just(True)
    if plan.wants["children"]:
        kids = draw(plan.children[profile])
        data["children"] = None if kids is None else [_place("children", k, on) for k in kids]
        done = draw(complete)
        data["children_complete"] = True if kids == [] and done is False else done
    if plan.wants["incidents"]:
        incs = draw(plan.incidents[profile])
        data["incidents"] = None if incs is None else [_place("incidents", i, on) for i in incs]
        data["incidents_complete"] = draw(complete)
    if plan.wants["matrix"]:
        data["matrix"] = draw(plan.matrix[profile])
    if plan.area:
        data["area"] = draw(_tri_strategy(Case, "area", profile))
    for group, model in _GROUPS.items():
        values = {n: draw(_tri_strategy(model, n, profile)) for n in plan.group_fields[group]}
        data[group] = _valid_group(group, values)
    try:
        return Case.model_validate(data)
    except ValidationError:
        # only cross-field checks can fail here (items and groups are validated one by one)
        return Case.model_validate({"assessment_date": on})


_PLANS: dict[int, tuple[Pack | None, _Plan]] = {}


def _plan(pack: Pack | None) -> _Plan:
    key = id(pack)
    hit = _PLANS.get(key)
    if hit is None or hit[0] is not pack:
        hit = (pack, _Plan(pack_reads(pack), _in_force_dates(pack)))
        _PLANS[key] = hit  # keeps the pack alive, so its id is not reused
    return hit[1]


def _as_pack(pack: Pack | str | Path | None) -> Pack | None:
    return load_pack(pack) if isinstance(pack, str | Path) else pack


def cases(pack: Pack | str | Path | None = None) -> st.SearchStrategy[Case]:
    """Valid cases. With a pack, only the facts the pack reads are generated."""
    plan = _plan(_as_pack(pack))

    @st.composite
    def case_strategy(draw: st.DrawFn) -> Case:  # a closure: keeps the strategy's repr short
        return _draw_case(draw, plan)

    return case_strategy()


def refine_with(draw: Draw, case: Case, pack: Pack | None) -> Case:
    """:func:`refine` with an explicit ``draw`` (e.g. ``data.draw`` inside a hypothesis test)."""
    plan = _plan(pack)
    data = case.model_dump()
    on = case.assessment_date
    # how much to resolve, from a little to nearly everything (shrinks towards a little)
    rate = draw(_RATE)

    def chance() -> bool:
        return bool(draw(_D4) >= 4 - rate)

    for group, model in _GROUPS.items():
        values = dict(data[group])
        for name in plan.group_fields[group]:
            if values.get(name) is None and chance():
                values[name] = draw(_value_strategy(model, name))
        if values != data[group] and _valid_group(group, values):
            data[group] = values
    if plan.area and data.get("area") is None and chance():
        data["area"] = draw(_value_strategy(Case, "area"))

    # an unknown list may become known (often empty); a list not known to be complete may grow
    for coll in ("children", "incidents"):
        if not plan.wants[coll]:
            continue
        items = data[coll]
        flag = f"{coll}_complete"
        if items is None:
            if chance():
                items = [_place(coll, i, on) for i in draw(plan.new_items[coll])]
        elif (items or coll == "incidents") and data[flag] is not True and chance():
            items = items + [_place(coll, i, on) for i in draw(plan.more_items[coll])]
        if items is not None:
            items = [_refine_item(draw, chance, plan, coll, dict(k), on) for k in items]
        data[coll] = items
        if data[flag] is None and (items or coll == "incidents") and chance():
            data[flag] = draw(_BOOL)
    if plan.wants["matrix"] and data["matrix"] is None and chance():
        data["matrix"] = draw(plan.new_matrix)  # a given matrix is complete: only unknown grows
    try:
        return Case.model_validate(data)
    except ValidationError:
        return case


def _refine_item(draw: Draw, chance: Callable[[], bool], plan: _Plan, collection: str,
                 item: dict[str, Any], on: date) -> dict[str, Any]:
    before = dict(item)
    if collection == "children":
        known_age = any(item.get(k) is not None for k in _AGE_KEYS[:3])
        if not known_age and item.get("unborn") is not True and chance():
            age = _age_fields(draw(_AGE_SPEC), on)
            if age.get("unborn") is not None and item.get("unborn") is False:
                age = {}
            item.update({k: v for k, v in age.items() if k != "unborn" or v is True})
        elif item.get("age_years") is not None and item.get("age_months") is None \
                and item.get("date_of_birth") is None and chance():
            item["age_months"] = 12 * item["age_years"] + draw(_MONTHS_OFFSET)
        if item.get("unborn") is None and any(item.get(k) is not None for k in _AGE_KEYS[:3]) \
                and chance():
            item["unborn"] = False
    if collection == "incidents" and item.get("date") is None and chance():
        item["date"] = _incident_day(draw(_DATE_SPEC), on)
    model = _ITEM_MODELS[collection]
    for name in plan.item_fields[collection]:
        if item.get(name) is None and chance():
            item[name] = draw(_value_strategy(model, name))
    return item if _valid_item(collection, item) is item else before


def refine(case: Case, pack: Pack | str | Path | None = None) -> st.SearchStrategy[Case]:
    """Cases that resolve some of ``case``'s unknown facts and change nothing it knows.

    An unknown fact may get a value; an unknown list (``children``, ``incidents``, ``matrix``)
    may become a list; a list of children or incidents not known to be complete may gain items
    and may become known complete; a child of unknown age may get one. With a pack, only the
    facts it reads are resolved.
    """
    p = _as_pack(pack)

    @st.composite
    def refined(draw: st.DrawFn) -> Case:  # a closure: keeps the strategy's repr short
        return refine_with(draw, case, p)

    return refined()


# --------------------------------------------------------------------------------------------
# Steering a case toward a condition (for witnesses, invariants and derived risk facts)
# --------------------------------------------------------------------------------------------


_COMPILERS: dict[int, tuple[Pack, _Compiler]] = {}


def _compiler(pack: Pack) -> _Compiler:
    """The pack's condition compiler (derived facts cached per case view), built once."""
    hit = _COMPILERS.get(id(pack))
    if hit is None or hit[0] is not pack:
        hit = (pack, _Compiler(pack))
        _COMPILERS[id(pack)] = hit  # keeps the pack alive, so its id is not reused
    return hit[1]


_case_facts = functools.cache(case_facts)


class _Steer:
    """Changes case data so that a condition becomes (certainly) true or false.

    Best effort: the result is always checked by evaluating the condition afterwards.
    """

    def __init__(self, pack: Pack, draw: Draw, data: dict[str, Any]) -> None:
        self.pack = pack
        self.draw = draw
        self.data = data
        self.on: date = data["assessment_date"]
        self.compiler = _compiler(pack)
        self.facts = _case_facts()

    def force(self, cond: Condition, want: bool) -> None:
        draw = self.draw
        if isinstance(cond, AllOf | AnyOf):
            parts = cond.all if isinstance(cond, AllOf) else cond.any
            if want == isinstance(cond, AllOf):
                for c in parts:
                    self.force(c, want)
            else:
                self.force(_pick(draw, parts), want)
        elif isinstance(cond, NotOf):
            self.force(cond.not_, not want)
        elif isinstance(cond, FactTest):
            self._fact(cond, want)
        elif isinstance(cond, CountTest):
            self._count(cond, want)
        # an outcome test is steered through the outcome rules (see force_level)

    def force_level(self, rank: int) -> None:
        """Make ``rank`` the outcome: higher outcome rules false, one rule of that level true."""
        for rule in self.pack.rules:
            if rule.outcome is not None and self.pack.rank(rule.outcome) > rank:
                self.force(rule.when, False)
        same = [r for r in self.pack.rules
                if r.outcome is not None and self.pack.rank(r.outcome) == rank]
        if same and self.pack.ladder[rank].id != self.pack.default_outcome:
            self.force(_pick(self.draw, same).when, True)

    def _fact(self, cond: FactTest, want: bool) -> None:
        op, bound = cond.op()
        if cond.fact in DERIVED:
            d = DERIVED[cond.fact]
            if d.kind == "count":
                assert isinstance(d.definition, CountTest)
                self._count(_as_count(d.definition, op, bound), want)
            elif op == "is" and isinstance(bound, bool):
                self.force(d.definition, want == bound)
            return
        info = self.facts.get(cond.fact)
        if info is None:
            return
        value = _satisfying(self.draw, info, op, bound, want)
        if value is _NONE:
            return
        node = self.data
        parts = cond.fact.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def _count(self, cond: CountTest, want: bool) -> None:
        lo, hi = cond.at_least, cond.at_most
        if lo is None and hi is None:
            return
        if not want:  # violate one side
            if lo is not None and (hi is None or self.draw(_BOOL)):
                self._drop(cond)
            else:
                self._add(cond, (hi or 0) + 1)
            return
        if hi is not None:
            self._drop(cond)
        if lo:
            self._add(cond, lo)

    def _drop(self, cond: CountTest) -> None:
        """Remove the items that match (or may match) and mark the list complete."""
        coll = cond.count
        items = self.data.get(coll)
        keep: list[dict[str, Any]] = []
        if items and cond.where is not None:
            try:
                view = CaseView(Case.model_validate(self.data))
                seen, _ = view.items(coll)
                fn = self.compiler.item(cond.where)
                keep = [raw for raw, it in zip(items, seen or [], strict=False) if fn(it) is False]
            except ValidationError:
                keep = []
        self.data[coll] = keep
        if coll != "matrix":
            self.data[f"{coll}_complete"] = True

    def _add(self, cond: CountTest, n: int) -> None:
        coll = cond.count
        items = list(self.data.get(coll) or [])
        for _ in range(n):
            item: dict[str, Any] = {}
            if coll == "matrix":
                item = {"scale": 1, "category": "evidence"}
            if cond.where is not None:
                self._item(item, coll, cond.where, True)
            if coll == "incidents":
                window = cond.within_months or 12
                span = (self.on - months_before(self.on, window)).days
                item.setdefault("date", self.on - timedelta(days=self.draw(_index(span + 1))))
            items.append(item)
        self.data[coll] = items

    def _item(self, item: dict[str, Any], coll: str, cond: Condition, want: bool) -> None:
        if isinstance(cond, AllOf | AnyOf):
            parts = cond.all if isinstance(cond, AllOf) else cond.any
            if want == isinstance(cond, AllOf):
                for c in parts:
                    self._item(item, coll, c, want)
            else:
                self._item(item, coll, _pick(self.draw, parts), want)
        elif isinstance(cond, NotOf):
            self._item(item, coll, cond.not_, not want)
        elif isinstance(cond, FactTest):
            op, bound = cond.op()
            if coll == "children" and cond.fact == "age_months":
                months = _satisfying_number(op, float(bound), want)
                for k in _AGE_KEYS:
                    item.pop(k, None)
                if months < 0:
                    item["unborn"] = True
                elif months <= 215 and self.draw(_BOOL):
                    item["age_months"] = int(months)
                else:
                    item["date_of_birth"] = months_before(self.on, int(months))
                return
            if coll == "children" and cond.fact == "unborn" and (bound is True) == want:
                for k in _AGE_KEYS:
                    item.pop(k, None)
            info = item_facts(coll).get(cond.fact)
            if info is not None:
                value = _satisfying(self.draw, info, op, bound, want)
                if value is not _NONE:
                    item[cond.fact] = value


_NONE = object()


def _as_count(definition: CountTest, op: str, bound: Any) -> CountTest:
    n = float(bound)
    at_least: int | None = None
    at_most: int | None = None
    if op == "gte":
        at_least = math.ceil(n)
    elif op == "gt":
        at_least = math.floor(n) + 1
    elif op == "lte":
        at_most = math.floor(n)
    elif op == "lt":
        at_most = math.ceil(n) - 1
    elif op == "is":
        at_least = at_most = int(n)
    return definition.model_copy(update={"at_least": at_least, "at_most": at_most})


def _satisfying_number(op: str, bound: float, want: bool) -> float:
    if not want:
        op = {"lt": "gte", "lte": "gt", "gt": "lte", "gte": "lt", "is": "is_not"}[op]
    return {"lt": math.ceil(bound) - 1, "lte": math.floor(bound), "gt": math.floor(bound) + 1,
            "gte": math.ceil(bound), "is": bound, "is_not": bound + 1}[op]


def _satisfying(draw: Draw, info: FactInfo, op: str, bound: Any, want: bool) -> Any:
    """A value of the fact that makes ``fact op bound`` equal ``want``; _NONE if there is none."""
    if info.kind in ("number", "count") and op != "in":
        return int(_satisfying_number(op, float(bound), want))
    if op == "is":
        if want:
            return bound
        others = [v for v in info.values if v != bound]
        return _pick(draw, others) if others else _NONE
    if op == "in":
        options = list(bound) if want else [v for v in info.values if v not in bound]
        return _pick(draw, options) if options else _NONE
    return _NONE


def _steered(base: st.SearchStrategy[Case], pack: Pack,
             steer: Callable[[_Steer], None]) -> st.SearchStrategy[Case]:
    @st.composite
    def steered(draw: st.DrawFn) -> Case:  # a closure: keeps the strategy's repr short
        return steer_case(draw, draw(base), pack, steer)

    return steered()


def steer_case(draw: Draw, case: Case, pack: Pack,
               steer: Callable[[_Steer], None]) -> Case:
    """Apply ``steer`` to a copy of ``case``; the case itself if the result is not valid."""
    data = case.model_dump()
    steer(_Steer(pack, draw, data))
    for coll in ("children", "incidents", "matrix"):
        if data.get(coll) is not None:
            data[coll] = [_valid_item(coll, dict(it)) for it in data[coll]]
    for group in _GROUPS:
        data[group] = _valid_group(group, data.get(group) or {})
    if data.get("children") == [] and data.get("children_complete") is False:
        data["children_complete"] = True
    try:
        return Case.model_validate(data)
    except ValidationError:
        return case


def toward(pack: Pack, cond: Condition, want: bool = True) -> st.SearchStrategy[Case]:
    """Cases steered so that ``cond`` is (usually) ``want``; check the condition afterwards."""
    return _steered(cases(pack), pack, lambda s: s.force(cond, want))


def toward_level(pack: Pack, level: str) -> st.SearchStrategy[Case]:
    """Cases steered so that the outcome is (usually) ``level``."""
    rank = pack.rank(level)
    return _steered(cases(pack), pack, lambda s: s.force_level(rank))


def _toward_rule(pack: Pack, rule_id: str) -> st.SearchStrategy[Case]:
    rule = pack.rule(rule_id)
    tests = [n for n in _walk_top(rule.when) if isinstance(n, OutcomeTest)]

    def steer(s: _Steer) -> None:
        if tests:
            lo, hi, allowed = s.compiler.outcome_bounds(tests[0])
            ranks = [r for r in range(lo, hi + 1) if allowed is None or r in allowed]
            if ranks:
                s.force_level(_pick(s.draw, ranks))
        s.force(rule.when, True)

    return _steered(cases(pack), pack, steer)


def _walk_top(cond: Condition) -> Iterable[Condition]:
    yield cond
    if isinstance(cond, AllOf | AnyOf):
        for c in cond.all if isinstance(cond, AllOf) else cond.any:
            yield from _walk_top(c)
    elif isinstance(cond, NotOf):
        yield from _walk_top(cond.not_)


def holds(pack: Pack, cond: Condition, case: Case) -> Truth:
    """The three-valued truth of a (non-outcome) condition for a case, as the pack's engine
    computes it."""
    return _compiler(pack).top(cond)(CaseView(case))


# --------------------------------------------------------------------------------------------
# Counterexamples as pack tests
# --------------------------------------------------------------------------------------------


def case_data(case: Case) -> dict[str, Any]:
    """A case as plain data without unknowns: what one writes in a pack test."""
    data = case.model_dump(exclude_none=True, exclude_defaults=False)
    for group in _GROUPS:
        if not data.get(group):
            data.pop(group, None)
    for child in data.get("children") or []:
        if child.get("young_persons_dash") is not None:
            child.pop("young_persons_dash_completed", None)  # implied
    order = ["assessment_date"] + [k for k in data if k != "assessment_date"]
    return {k: data[k] for k in order}


def pack_test_yaml(name: str, case: Case, expect: dict[str, Any], comment: str = "") -> str:
    """A ``name`` / ``case`` / ``expect`` block, indented to paste under ``tests:``."""
    body = yaml.safe_dump([{"name": name, "case": case_data(case), "expect": expect}],
                          sort_keys=False, allow_unicode=True, width=100)
    lines = [f"# {ln}" for ln in comment.splitlines()] + body.splitlines()
    return "\n".join("  " + ln for ln in lines) + "\n"


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------


@dataclass
class Counterexample:
    name: str
    case: Case
    expect: dict[str, Any]
    comment: str = ""

    def yaml(self) -> str:
        return pack_test_yaml(self.name, self.case, self.expect, self.comment)


@dataclass
class CheckResult:
    """The result of one check on one pack."""

    check: str
    ok: bool
    message: str = ""
    counterexamples: list[Counterexample] = field(default_factory=list)
    witnesses: dict[str, Case] = field(default_factory=dict)

    def format(self) -> str:
        lines = [f"  {'ok  ' if self.ok else 'FAIL'}  {self.check}" +
                 (f": {self.message}" if self.message else "")]
        if self.counterexamples:
            lines.append("        counterexample (paste under `tests:` in the pack's .tests.yaml):")
            for cx in self.counterexamples:
                lines.extend("        " + ln for ln in cx.yaml().rstrip("\n").splitlines())
        return "\n".join(lines)


@dataclass
class PackReport:
    """Every check run on a pack."""

    pack: str
    max_examples: int
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.ok]

    def result(self, check: str) -> CheckResult:
        return next(r for r in self.results if r.check == check)

    def format(self) -> str:
        head = (f"property checks for {self.pack} (max_examples={self.max_examples}): "
                f"{'all passed' if self.ok else f'{len(self.failures)} failed'}")
        return "\n".join([head, *(r.format() for r in self.results)])


class _Failed(AssertionError):
    def __init__(self, message: str, counterexamples: list[Counterexample]) -> None:
        super().__init__(message)
        self.message = message
        self.counterexamples = counterexamples


def _settings(max_examples: int, derandomize: bool) -> settings:
    return settings(
        max_examples=max_examples, deadline=None, database=None, derandomize=derandomize,
        suppress_health_check=list(HealthCheck), report_multiple_bugs=False, print_blob=False,
        verbosity=Verbosity.quiet,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    )


def _run_property(name: str, body: Callable[[st.DataObject], None], max_examples: int,
                  derandomize: bool) -> CheckResult:
    """Run ``body`` under hypothesis; a :class:`_Failed` raised by it is shrunk and reported."""
    last: list[_Failed] = []

    def test(data: st.DataObject) -> None:
        try:
            body(data)
        except _Failed as e:
            last.append(e)
            raise

    run = _settings(max_examples, derandomize)(given(st.data())(test))
    try:
        run()
    except _Failed as e:
        return CheckResult(name, False, e.message, e.counterexamples)
    except Exception as e:  # noqa: BLE001 - e.g. hypothesis reports a flaky failure
        if last:
            f = last[-1]
            return CheckResult(name, False, f"{f.message} ({type(e).__name__})", f.counterexamples)
        raise
    return CheckResult(name, True)


def _decide(pack: Pack, case: Case,
            engine: Literal["compiled", "durable"] = "compiled") -> Decision:
    """Evaluate; an error (any exception) is a property failure with the case as counterexample."""
    try:
        return evaluate(case, pack, engine=engine)
    except Exception as e:  # noqa: BLE001 - any crash on a valid case is a bug to report
        msg = f"evaluating a valid case with the {engine} engine raised {type(e).__name__}: {e}"
        raise _Failed(msg, [Counterexample(f"a valid case is evaluated ({engine} engine)", case,
                                           {}, msg)]) from e


def _expect_of(d: Decision,
               keys: Sequence[str] = ("outcome", "lowest", "highest")) -> dict[str, Any]:
    values = {"outcome": d.outcome.id, "lowest": d.bounds.lowest.id, "highest": d.bounds.highest.id,
              "settled": d.settled}
    return {k: values[k] for k in keys}


def check_monotone(pack: Pack, max_examples: int = 100, derandomize: bool = False) -> CheckResult:
    """Setting a risk fact from unknown/false to true never lowers the outcome."""
    if not pack.risk_facts:
        return CheckResult("monotone", True, "no risk_facts declared")
    compiler = _Compiler(pack)
    base = cases(pack)
    tests = [(path, compiler.top(FactTest.model_validate({"fact": path, "is": True})))
             for path in pack.risk_facts]

    def body(data: st.DataObject) -> None:
        case = data.draw(base, label="case")
        d0 = _decide(pack, case)
        for path, fn in tests:  # every risk fact, each on its own
            before = fn(CaseView(case))
            if before is True:
                continue
            raised = steer_case(data.draw, case, pack, _make_true(path))
            if fn(CaseView(raised)) is not True:
                continue
            d1 = _decide(pack, raised)
            if d1.outcome.rank >= d0.outcome.rank:
                continue
            was = "unknown" if before is None else "false"
            msg = (f"setting {path} from {was} to true lowered the outcome from {d0.outcome.id} "
                   f"to {d1.outcome.id}")
            raise _Failed(msg, [
                Counterexample(f"{path} {was}: outcome {d0.outcome.id} (property: monotone)", case,
                               _expect_of(d0, ("outcome",)), f"{path} {was}"),
                Counterexample(f"{path} true must not lower the outcome below {d0.outcome.id}",
                               raised, {"outcome": d0.outcome.id},
                               f"property monotone: {msg}\nexpect: outcome at least "
                               f"{d0.outcome.id}"),
            ])

    r = _run_property("monotone", body, max_examples, derandomize)
    if r.ok:
        r.message = f"{len(pack.risk_facts)} risk facts"
    return r


def _make_true(path: str) -> Callable[[_Steer], None]:
    test = FactTest.model_validate({"fact": path, "is": True})

    def steer(s: _Steer) -> None:
        s.force(test, True)

    return steer


REFINEMENTS = 3
"""Refinements of each generated case that the bounds check evaluates."""


def check_bounds(pack: Pack, max_examples: int = 100, derandomize: bool = False) -> CheckResult:
    """Resolving unknowns keeps the outcome, and each dimension's value, within the bounds reported
    before (the bounds are sound)."""
    base = cases(pack)

    def body(data: st.DataObject) -> None:
        case = data.draw(base, label="case")
        d0 = _decide(pack, case)
        for _ in range(REFINEMENTS):
            one_refinement(case, d0, refine_with(data.draw, case, pack))

    def one_refinement(case: Case, d0: Decision, refined: Case) -> None:
        d1 = _decide(pack, refined)
        lo, hi = d0.bounds.lowest.rank, d0.bounds.highest.rank
        problems = []
        if not lo <= d1.outcome.rank <= hi:
            problems.append(f"outcome {d1.outcome.id} is outside the bounds "
                            f"[{d0.bounds.lowest.id} .. {d0.bounds.highest.id}] reported before")
        elif d1.bounds.lowest.rank < lo or d1.bounds.highest.rank > hi:
            problems.append(f"bounds [{d1.bounds.lowest.id} .. {d1.bounds.highest.id}] are "
                            f"wider than [{d0.bounds.lowest.id} .. {d0.bounds.highest.id}] "
                            "reported before")
        else:
            for dim, v0 in d0.dimensions.items():
                order = DIMENSIONS[dim]
                v1 = d1.dimensions[dim].value
                if not order.index(v0.lowest) <= order.index(v1) <= order.index(v0.highest):
                    problems.append(f"{dim} {v1} is outside [{v0.lowest} .. {v0.highest}] reported before")
                    raise _Failed("resolving unknowns: " + problems[-1], [
                        Counterexample(f"{dim} must stay within its bounds once unknowns are known", case,
                                       {"dimensions": {dim: v0.value}},
                                       f"property bounds: {problems[-1]}\nthe case with the unknowns "
                                       f"resolved ({dim} {v1}) follows"),
                        Counterexample(f"unknowns resolved: {dim} {v1}", refined, {"dimensions": {dim: v1}}),
                    ])
        if problems:
            msg = "resolving unknowns: " + "; ".join(problems)
            fix = ({"highest": d1.outcome.id} if d1.outcome.rank > hi
                   else {"lowest": d1.bounds.lowest.id} if d1.bounds.lowest.rank < lo
                   else {"highest": d1.bounds.highest.id})
            raise _Failed(msg, [
                Counterexample("bounds must contain the outcome once unknowns are known", case,
                               fix, f"property bounds: {msg}\nthe case with the unknowns resolved "
                                    f"(decided {d1.outcome.id}) follows"),
                Counterexample(f"unknowns resolved: outcome {d1.outcome.id}", refined,
                               _expect_of(d1, ("outcome",))),
            ])

    return _run_property("bounds", body, max_examples, derandomize)


def check_deterministic(pack: Pack, max_examples: int = 100,
                        derandomize: bool = False) -> CheckResult:
    """The same case gives the same decision: twice, from a copy, and from a fresh compile."""
    fresh = load_pack_file(pack.path) if pack.path else None
    base = cases(pack)

    def body(data: st.DataObject) -> None:
        case = data.draw(base, label="case")
        first = _decide(pack, case)
        d1 = first.comparable()
        copy = Case.model_validate(case.model_dump())
        copies = [("again", _decide(pack, case).comparable()),
                  ("from a copy", _decide(pack, copy).comparable())]
        if fresh is not None:
            copies.append(("by a freshly compiled pack", _decide(fresh, case).comparable()))
        for how, d in copies:
            if d != d1:
                msg = f"evaluated {how} the decision differs: {_diff(d1, d)}"
                raise _Failed(msg, [Counterexample("same case, same decision", case,
                                                   _expect_of(first),
                                                   f"property deterministic: {msg}")])

    return _run_property("deterministic", body, max_examples, derandomize)


def check_engines(pack: Pack, max_examples: int = 100, derandomize: bool = False) -> CheckResult:
    """The compiled and durable-rules engines make the same decision."""
    base = cases(pack)

    def body(data: st.DataObject) -> None:
        case = data.draw(base, label="case")
        dc = _decide(pack, case, "compiled")
        dd = _decide(pack, case, "durable")
        if dc.comparable() != dd.comparable():
            msg = f"compiled and durable engines differ: {_diff(dc.comparable(), dd.comparable())}"
            raise _Failed(msg, [Counterexample("compiled and durable engines agree", case,
                                               _expect_of(dc), f"property engines: {msg}\n"
                                               "run with `dvsafeguard test --engine durable`")])

    return _run_property("engines", body, max_examples, derandomize)


def _diff(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> str:
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
                return _diff(a[k], b[k], f"{prefix}{k}.")
            return f"{prefix}{k}: {a.get(k)!r} != {b.get(k)!r}"
    return "(no difference)"


def check_invariants(pack: Pack, max_examples: int = 100,
                     derandomize: bool = False) -> list[CheckResult]:
    """Each declared invariant: where ``given`` holds, the outcome respects its bound."""
    out = []
    compiler = _Compiler(pack)
    for inv in pack.invariants:
        given_fn = compiler.top(inv.given)
        strategy = st.one_of(cases(pack), toward(pack, inv.given, True))
        at_least = pack.rank(inv.outcome_at_least) if inv.outcome_at_least else None
        at_most = pack.rank(inv.outcome_at_most) if inv.outcome_at_most else None
        hits = [0]

        def body(data: st.DataObject, _inv: Any = inv, _fn: Any = given_fn, _s: Any = strategy,
                 _lo: int | None = at_least, _hi: int | None = at_most, _hits: list[int] = hits
                 ) -> None:
            case = data.draw(_s, label="case")
            if _fn(CaseView(case)) is not True:
                return
            _hits[0] += 1
            d = _decide(pack, case)
            bad = ((_lo is not None and d.outcome.rank < _lo)
                   or (_hi is not None and d.outcome.rank > _hi))
            if bad:
                low = _lo is not None and d.outcome.rank < _lo
                bound = (f"at least {_inv.outcome_at_least}" if low
                         else f"at most {_inv.outcome_at_most}")
                want = _inv.outcome_at_least if low else _inv.outcome_at_most
                msg = (f"invariant {_inv.id} ({_inv.description}): outcome must be {bound}, "
                       f"decided {d.outcome.id}")
                raise _Failed(msg, [Counterexample(
                    f"invariant {_inv.id}: outcome {bound}", case, {"outcome": want},
                    f"{msg}\n(expect: outcome {bound})")])

        r = _run_property(f"invariant {inv.id}", body, max_examples, derandomize)
        if r.ok and hits[0] == 0:
            r = CheckResult(r.check, False, f"`given` never held in {max_examples} examples; "
                            "the invariant was not exercised")
        elif r.ok:
            r.message = f"given held in {hits[0]} examples"
        out.append(r)
    return out


def check_reachable(pack: Pack, max_examples: int = 300, derandomize: bool = False) -> CheckResult:
    """Every rule applies, and every ladder level is the outcome, for some case (a witness)."""
    missing: list[str] = []
    crashes: list[_Failed] = []
    witnesses: dict[str, Case] = {}
    conf = settings(_settings(max_examples, derandomize), phases=[Phase.generate])

    def search(key: str, strategy: st.SearchStrategy[Case],
               goal: Callable[[Decision], bool]) -> None:
        try:
            witnesses[key] = find(strategy, lambda c: goal(_decide(pack, c)), settings=conf)
        except NoSuchExample:
            missing.append(key)
        except _Failed as e:
            missing.append(key)
            crashes.append(e)

    for rule in pack.rules:
        def applies(d: Decision, _id: str = rule.id) -> bool:
            return any(r.id == _id for r in [*d.rules, *d.factors])
        search(f"rule {rule.id}", st.one_of(_toward_rule(pack, rule.id), cases(pack)), applies)
    for level in pack.level_ids:
        def is_level(d: Decision, _lv: str = level) -> bool:
            return d.outcome.id == _lv
        search(f"level {level}", st.one_of(toward_level(pack, level), cases(pack)), is_level)
    total = len(pack.rules) + len(pack.ladder)
    if missing:
        msg = f"no witness found in {max_examples} examples for: {', '.join(missing)}"
        if crashes:
            msg += f"; {crashes[0].message}"
        return CheckResult("reachable", False, msg,
                           [cx for e in crashes[:1] for cx in e.counterexamples],
                           witnesses=witnesses)
    return CheckResult("reachable", True, f"{len(pack.rules)} rules and {len(pack.ladder)} levels "
                       f"({total} witnesses)", witnesses=witnesses)


def check_pack(pack: Pack | str | Path, max_examples: int = 100, *,
               checks: Iterable[str] | None = None, derandomize: bool = False) -> PackReport:
    """Run the built-in checks and the pack's declared invariants; return a report.

    ``checks`` selects among :data:`CHECKS` (default: all). Reachability searches up to
    ``3 * max_examples`` cases per rule and level.
    """
    p = load_pack(pack) if isinstance(pack, str | Path) else pack
    chosen = list(checks) if checks is not None else list(CHECKS)
    unknown = [c for c in chosen if c not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; checks: {', '.join(CHECKS)}")
    report = PackReport(p.ref, max_examples)
    n = max_examples
    for check in CHECKS:
        if check not in chosen:
            continue
        if check == "monotone":
            report.results.append(check_monotone(p, n, derandomize))
        elif check == "bounds":
            report.results.append(check_bounds(p, n, derandomize))
        elif check == "deterministic":
            report.results.append(check_deterministic(p, n, derandomize))
        elif check == "engines":
            report.results.append(check_engines(p, n, derandomize))
        elif check == "invariants":
            report.results.extend(check_invariants(p, n, derandomize))
        elif check == "reachable":
            report.results.append(check_reachable(p, 3 * n, derandomize))
    return report
