"""Property testing for rule packs: hypothesis strategies for cases and the checks every pack
must pass.

For policy authors::

    from hypothesis import given
    from dvsafeguard.testing import cases, refine, check_pack

    report = check_pack("london", max_examples=200)
    assert report.ok, report.format()

Strategies
    :func:`cases` generates valid :class:`~dvsafeguard.facts.Case` objects — children whose ages
    (date of birth, months, years, unborn or unknown) sit around the 12-month and 7-year edges
    on the assessment date, incidents dated around the 12-month window, matrix ticks,
    assessments, and every yes/no fact true, false or unknown (``None``). Given a pack, only
    the facts the pack reads are generated, which makes counterexamples small.
    :func:`refine` generates cases that resolve some of a case's unknown facts (and nothing
    else): an unknown fact gets a value, an unknown list becomes a list, a list not known to be
    complete may gain items.

Built-in checks (:func:`check_pack`)
    ``monotone``       setting a fact of the pack's ``risk_facts`` from unknown/false to true
                       never lowers the outcome (derived facts are made true by changing the
                       facts they are defined from);
    ``bounds``         resolving unknowns keeps the outcome within the reported bounds
                       ``[lowest, highest]``, and the new bounds within the old ones;
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
from .pack import Pack, load_pack, load_pack_file

CHECKS = ("monotone", "bounds", "deterministic", "engines", "invariants", "reachable")
"""The built-in checks, in the order :func:`check_pack` runs them."""

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


def _tri(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def _group_fields(model: type[BaseModel], prefix: str, reads: Reads | None,
                  skip: Sequence[str] = ()) -> dict[str, st.SearchStrategy[Any]]:
    out: dict[str, st.SearchStrategy[Any]] = {}
    for name in model.model_fields:
        if name in skip:
            continue
        if reads is not None and prefix + name not in reads.top:
            continue
        s = _value_strategy(model, name)
        if s is not None:
            out[name] = s
    return out


def _item_fields(collection: str, reads: Reads | None) -> dict[str, st.SearchStrategy[Any]]:
    model = _ITEM_MODELS[collection]
    out: dict[str, st.SearchStrategy[Any]] = {}
    for name in model.model_fields:
        if name in _STRUCTURAL[collection] or name in ("name", "description"):
            continue
        if reads is not None and name not in reads.items[collection]:
            continue
        s = _value_strategy(model, name)
        if s is not None:
            out[name] = s
    return out


_GROUPS: dict[str, type[BaseModel]] = {
    name: typing.cast(type[BaseModel], _target(f.annotation))
    for name, f in Case.model_fields.items()
    if isinstance(_target(f.annotation), type) and issubclass(_target(f.annotation), BaseModel)
}


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
# Strategies
# --------------------------------------------------------------------------------------------


def assessment_dates() -> st.SearchStrategy[date]:
    """Assessment dates, with month ends and leap days over-represented."""
    return st.one_of(st.sampled_from(_EDGE_DATES), st.dates(date(2008, 1, 1), date(2027, 12, 31)))


def _shift(d: date, days: int, on: date) -> date:
    return min(d + timedelta(days=days), on)


@st.composite
def _age(draw: st.DrawFn, on: date) -> dict[str, Any]:
    """How a child's age is known: around 12 months and 7 years, anything, unborn, unknown."""
    mode = draw(st.sampled_from(["dob_12", "dob_84", "dob", "months", "years", "unborn",
                                 "unknown", "born_unknown"]))
    if mode == "dob_12":
        return {"date_of_birth": _shift(months_before(on, 12), draw(st.integers(-3, 3)), on)}
    if mode == "dob_84":
        return {"date_of_birth": _shift(months_before(on, 84), draw(st.integers(-3, 3)), on)}
    if mode == "dob":
        return {"date_of_birth": on - timedelta(days=draw(st.integers(0, 18 * 365)))}
    if mode == "months":
        return {"age_months": draw(st.one_of(st.integers(10, 13), st.integers(82, 86),
                                             st.integers(0, 215)))}
    if mode == "years":
        return {"age_years": draw(st.one_of(st.sampled_from([0, 1, 6, 7]), st.integers(0, 17)))}
    if mode == "unborn":
        return {"unborn": True}
    if mode == "born_unknown":
        return {"unborn": False}
    return {}


@st.composite
def _child(draw: st.DrawFn, on: date, reads: Reads | None) -> dict[str, Any]:
    item = draw(_age(on))
    for name, s in _item_fields("children", reads).items():
        item[name] = draw(_tri(s))
    return _valid_item("children", item)


def _incident_date(on: date) -> st.SearchStrategy[date | None]:
    edge = months_before(on, 12)
    return st.one_of(
        st.none(),
        st.integers(-3, 3).map(lambda k: _shift(edge, k, on)),
        st.integers(0, 400).map(lambda k: on - timedelta(days=k)),
        st.integers(366, 3000).map(lambda k: on - timedelta(days=k)),
    )


@st.composite
def _incident(draw: st.DrawFn, on: date, reads: Reads | None) -> dict[str, Any]:
    item: dict[str, Any] = {"date": draw(_incident_date(on))}
    for name, s in _item_fields("incidents", reads).items():
        item[name] = draw(_tri(s))
    return _valid_item("incidents", item)


@st.composite
def _tick(draw: st.DrawFn) -> dict[str, Any]:
    return {"scale": draw(st.integers(1, 4)),
            "category": draw(st.sampled_from(["evidence", "risk_factor", "protective_factor"]))}


def _wants(reads: Reads | None, collection: str) -> bool:
    return reads is None or collection in reads.lists


@st.composite
def _case(draw: st.DrawFn, reads: Reads | None) -> Case:
    on = draw(assessment_dates())
    data: dict[str, Any] = {"assessment_date": on}
    if _wants(reads, "children"):
        data["children"] = draw(st.one_of(st.none(), st.just([]),
                                          st.lists(_child(on, reads), min_size=1, max_size=4)))
        complete = draw(st.sampled_from([None, True, False]))
        if data["children"] == [] and complete is False:
            complete = True
        data["children_complete"] = complete
    if _wants(reads, "incidents"):
        data["incidents"] = draw(st.one_of(st.none(), st.lists(_incident(on, reads), max_size=4)))
        data["incidents_complete"] = draw(st.sampled_from([None, True, False]))
    if _wants(reads, "matrix"):
        data["matrix"] = draw(st.one_of(st.none(), st.lists(_tick(), max_size=4)))
    if reads is None or "area" in reads.top:
        data["area"] = draw(_tri(typing.cast(st.SearchStrategy[Any],
                                             _value_strategy(Case, "area"))))
    for group, model in _GROUPS.items():
        fields = _group_fields(model, group + ".", reads)
        values = {name: draw(_tri(s)) for name, s in fields.items()}
        data[group] = _valid_group(group, values)
    return _validate(data)


def _validate(data: dict[str, Any]) -> Case:
    try:
        return Case.model_validate(data)
    except ValidationError:
        # only cross-field checks can fail here (items and groups are validated one by one)
        return Case.model_validate({"assessment_date": data["assessment_date"]})


def cases(pack: Pack | str | Path | None = None) -> st.SearchStrategy[Case]:
    """Valid cases. With a pack, only the facts the pack reads are generated."""
    p = load_pack(pack) if isinstance(pack, str | Path) else pack
    return _case(pack_reads(p))


@st.composite
def _refine(draw: st.DrawFn, case: Case, reads: Reads | None) -> Case:
    return refine_with(draw, case, reads)


def refine_with(draw: Callable[..., Any], case: Case, reads: Reads | None) -> Case:
    """:func:`refine` with an explicit ``draw`` (e.g. ``data.draw`` inside a hypothesis test)."""
    data = case.model_dump()
    on = case.assessment_date

    def maybe(s: st.SearchStrategy[Any]) -> Any:
        return draw(s) if draw(st.booleans()) else None

    for group, model in _GROUPS.items():
        values = dict(data[group])
        for name, s in _group_fields(model, group + ".", reads).items():
            if values.get(name) is None:
                values[name] = maybe(s)
        data[group] = _valid_group(group, values) if values != data[group] else data[group]
        if not data[group]:
            data[group] = case.model_dump()[group]
    if data.get("area") is None and (reads is None or "area" in reads.top):
        data["area"] = maybe(typing.cast(st.SearchStrategy[Any], _value_strategy(Case, "area")))

    # children: an unknown list may become known; a list not known to be complete may grow
    if _wants(reads, "children"):
        kids = data["children"]
        if kids is None:
            kids = maybe(st.lists(_child(on, reads), max_size=3))
        elif kids and data["children_complete"] is not True and draw(st.booleans()):
            kids = kids + draw(st.lists(_child(on, reads), min_size=1, max_size=2))
        if kids is not None:
            kids = [_refine_child(draw, dict(k), on, reads) for k in kids]
        data["children"] = kids
        if data["children_complete"] is None and kids:
            data["children_complete"] = maybe(st.booleans())
    if _wants(reads, "incidents"):
        incs = data["incidents"]
        if incs is None:
            incs = maybe(st.lists(_incident(on, reads), max_size=3))
        elif data["incidents_complete"] is not True and draw(st.booleans()):
            incs = incs + draw(st.lists(_incident(on, reads), min_size=1, max_size=2))
        if incs is not None:
            incs = [_refine_item(draw, "incidents", dict(i), on, reads) for i in incs]
        data["incidents"] = incs
        if data["incidents_complete"] is None:
            data["incidents_complete"] = maybe(st.booleans())
    if _wants(reads, "matrix") and data["matrix"] is None:
        data["matrix"] = maybe(st.lists(_tick(), max_size=3))  # a given matrix is complete
    try:
        return Case.model_validate(data)
    except ValidationError:
        return case


def _refine_item(draw: st.DrawFn, collection: str, item: dict[str, Any], on: date,
                 reads: Reads | None) -> dict[str, Any]:
    before = dict(item)
    for name, s in _item_fields(collection, reads).items():
        if item.get(name) is None and draw(st.booleans()):
            item[name] = draw(s)
    if collection == "incidents" and item.get("date") is None and draw(st.booleans()):
        item["date"] = draw(_incident_date(on))
    checked = _valid_item(collection, item)
    return item if checked is item else before


def _refine_child(draw: st.DrawFn, child: dict[str, Any], on: date,
                  reads: Reads | None) -> dict[str, Any]:
    before = dict(child)
    known_age = any(child.get(k) is not None for k in ("date_of_birth", "age_years", "age_months"))
    if not known_age and child.get("unborn") is not True and draw(st.booleans()):
        age = draw(_age(on))
        if child.get("unborn") is False and age.get("unborn") is True:
            age = {}
        if age.get("unborn") is False or not age:
            age.pop("unborn", None)
        child.update(age)
    elif child.get("age_years") is not None and child.get("age_months") is None \
            and child.get("date_of_birth") is None and draw(st.booleans()):
        child["age_months"] = 12 * child["age_years"] + draw(st.integers(0, 11))
    if child.get("unborn") is None and any(child.get(k) is not None for k in _AGE_KEYS[:3]) \
            and draw(st.booleans()):
        child["unborn"] = False
    refined = _refine_item(draw, "children", child, on, reads)
    return refined if _valid_item("children", refined) is refined else before


def refine(case: Case, pack: Pack | str | Path | None = None) -> st.SearchStrategy[Case]:
    """Cases that resolve some of ``case``'s unknown facts and change nothing it knows.

    An unknown fact may get a value; an unknown list (``children``, ``incidents``, ``matrix``)
    may become a list; a list of children or incidents not known to be complete may gain items
    and may become known complete; a child of unknown age may get one. With a pack, only the
    facts it reads are resolved.
    """
    p = load_pack(pack) if isinstance(pack, str | Path) else pack
    return _refine(case, pack_reads(p))


# --------------------------------------------------------------------------------------------
# Steering a case toward a condition (for witnesses, invariants and derived risk facts)
# --------------------------------------------------------------------------------------------


class _Steer:
    """Changes case data so that a condition becomes (certainly) true or false.

    Best effort: the result is always checked by evaluating the condition afterwards.
    """

    def __init__(self, pack: Pack, draw: Callable[..., Any], data: dict[str, Any]) -> None:
        self.pack = pack
        self.draw = draw
        self.data = data
        self.on: date = data["assessment_date"]
        self.compiler = _Compiler(pack)
        self.facts = case_facts()

    def force(self, cond: Condition, want: bool) -> None:
        draw = self.draw
        if isinstance(cond, AllOf | AnyOf):
            parts = cond.all if isinstance(cond, AllOf) else cond.any
            if want == isinstance(cond, AllOf):
                for c in parts:
                    self.force(c, want)
            else:
                self.force(draw(st.sampled_from(parts)), want)
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
            self.force(self.draw(st.sampled_from(same)).when, True)

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
            if lo is not None and (hi is None or self.draw(st.booleans())):
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
                item.setdefault("date", self.on - timedelta(days=self.draw(st.integers(0, span))))
            items.append(item)
        self.data[coll] = items

    def _item(self, item: dict[str, Any], coll: str, cond: Condition, want: bool) -> None:
        if isinstance(cond, AllOf | AnyOf):
            parts = cond.all if isinstance(cond, AllOf) else cond.any
            if want == isinstance(cond, AllOf):
                for c in parts:
                    self._item(item, coll, c, want)
            else:
                self._item(item, coll, self.draw(st.sampled_from(parts)), want)
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
                elif months <= 215 and self.draw(st.booleans()):
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


def _satisfying(draw: st.DrawFn, info: FactInfo, op: str, bound: Any, want: bool) -> Any:
    """A value of the fact that makes ``fact op bound`` equal ``want``; _NONE if there is none."""
    if info.kind in ("number", "count") and op != "in":
        return int(_satisfying_number(op, float(bound), want))
    if op == "is":
        if want:
            return bound
        others = [v for v in info.values if v != bound]
        return draw(st.sampled_from(others)) if others else _NONE
    if op == "in":
        options = list(bound) if want else [v for v in info.values if v not in bound]
        return draw(st.sampled_from(options)) if options else _NONE
    return _NONE


@st.composite
def _steered(draw: st.DrawFn, base: st.SearchStrategy[Case], pack: Pack,
             steer: Callable[[_Steer], None]) -> Case:
    return steer_case(draw, draw(base), pack, steer)


def steer_case(draw: Callable[..., Any], case: Case, pack: Pack,
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
                s.force_level(s.draw(st.sampled_from(ranks)))
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
    return _Compiler(pack).top(cond)(CaseView(case))


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

    def body(data: st.DataObject) -> None:
        case = data.draw(base, label="case")
        path = data.draw(st.sampled_from(pack.risk_facts), label="risk fact")
        test = FactTest.model_validate({"fact": path, "is": True})
        fn = compiler.top(test)
        before = fn(CaseView(case))
        if before is True:
            return
        raised = steer_case(data.draw, case, pack, lambda s: s.force(test, True))
        if fn(CaseView(raised)) is not True:
            return
        d0, d1 = evaluate(case, pack), evaluate(raised, pack)
        if d1.outcome.rank < d0.outcome.rank:
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


def check_bounds(pack: Pack, max_examples: int = 100, derandomize: bool = False) -> CheckResult:
    """Resolving unknowns keeps the outcome within the reported bounds (the bounds are sound)."""
    base = cases(pack)
    reads = pack_reads(pack)

    def body(data: st.DataObject) -> None:
        case = data.draw(base, label="case")
        refined = refine_with(data.draw, case, reads)
        d0, d1 = evaluate(case, pack), evaluate(refined, pack)
        lo, hi = d0.bounds.lowest.rank, d0.bounds.highest.rank
        problems = []
        if not lo <= d1.outcome.rank <= hi:
            problems.append(f"outcome {d1.outcome.id} is outside the bounds "
                            f"[{d0.bounds.lowest.id} .. {d0.bounds.highest.id}] reported before")
        elif d1.bounds.lowest.rank < lo or d1.bounds.highest.rank > hi:
            problems.append(f"bounds [{d1.bounds.lowest.id} .. {d1.bounds.highest.id}] are "
                            f"wider than [{d0.bounds.lowest.id} .. {d0.bounds.highest.id}] "
                            "reported before")
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
        d1 = evaluate(case, pack).comparable()
        copy = Case.model_validate(case.model_dump())
        copies = [("again", evaluate(case, pack).comparable()),
                  ("from a copy", evaluate(copy, pack).comparable())]
        if fresh is not None:
            copies.append(("by a freshly compiled pack", evaluate(case, fresh).comparable()))
        for how, d in copies:
            if d != d1:
                msg = f"evaluated {how} the decision differs: {_diff(d1, d)}"
                raise _Failed(msg, [Counterexample("same case, same decision", case,
                                                   _expect_of(evaluate(case, pack)),
                                                   f"property deterministic: {msg}")])

    return _run_property("deterministic", body, max_examples, derandomize)


def check_engines(pack: Pack, max_examples: int = 100, derandomize: bool = False) -> CheckResult:
    """The compiled and durable-rules engines make the same decision."""
    base = cases(pack)

    def body(data: st.DataObject) -> None:
        case = data.draw(base, label="case")
        dc = evaluate(case, pack, engine="compiled")
        dd = evaluate(case, pack, engine="durable")
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
            d = evaluate(case, pack)
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
    witnesses: dict[str, Case] = {}
    conf = settings(_settings(max_examples, derandomize), phases=[Phase.generate])

    def search(key: str, strategy: st.SearchStrategy[Case],
               goal: Callable[[Decision], bool]) -> None:
        try:
            witnesses[key] = find(strategy, lambda c: goal(evaluate(c, pack)), settings=conf)
        except NoSuchExample:
            missing.append(key)

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
        return CheckResult("reachable", False,
                           f"no witness found in {max_examples} examples for: {', '.join(missing)}",
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
