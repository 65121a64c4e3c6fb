"""Derived facts, computed once and in one place.

Packs test case facts by dotted path (``victim.pregnant``), count over the case's lists
(``children``, ``incidents``, ``matrix``) and use a few *derived* facts (``derived.*``) defined
here. Each derived fact is itself written in the pack condition language, so that its meaning is
data a policy author can read (``DERIVED`` below; docs/pack-format.md lists them) and it is three-valued like any
other fact.

This module also builds the per-evaluation view of a case that conditions read: the lists as
plain dictionaries, with each child's age turned into an interval of months on the assessment
date (``age_months``) and each incident's date kept for time windows.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from .conditions import AllOf, AnyOf, Condition, CountTest, FactTest, Interval, NotOf, Truth, Value
from .facts import Case, Child, Incident, MatrixTick, completed_months


@dataclass(frozen=True)
class Derived:
    """A derived fact: name, meaning, and its definition in the condition language."""

    name: str
    description: str
    definition: Condition
    kind: Literal["bool", "count", "confirmed"]
    """``confirmed``: true only when the definition is *known* to be true, false otherwise — a
    fact about what has been established (e.g. London 9.6.1 "having confirmed that there are no
    children in the household"), so it is never unknown."""


def _f(path: str, **op: Any) -> FactTest:
    return FactTest.model_validate({"fact": path, **op})


def _count(collection: str, where: Condition | None = None, **kw: Any) -> CountTest:
    return CountTest.model_validate({"count": collection, "where": where, **kw})


_UNDER_12M = AnyOf(any=[_f("unborn", is_=True), _f("age_months", lt=12)])
_UNDER_7 = AnyOf(any=[_f("unborn", is_=True), _f("age_months", lt=84)])
_IN_HOUSEHOLD = _f("in_household", is_=True)
_IN_OR_VISITING = AnyOf(any=[_IN_HOUSEHOLD, _f("regularly_visits", is_=True), _f("unborn", is_=True)])
# "no children in the household" (London 9.6.1): the victim is known not to be pregnant (an unborn
# child is a child of the household, 9.3.1) and no child lives in, regularly visits or is unborn
_NO_CHILDREN_IN_HOUSEHOLD = AllOf(all=[
    _f("victim.pregnant", is_=False),
    NotOf.model_validate({"not": _count("children", _IN_OR_VISITING, at_least=1)}),
])

DERIVED: dict[str, Derived] = {
    d.name: d
    for d in [
        Derived(
            "derived.child_under_12_months",
            "A child of the family is under 12 months old on the assessment date, or unborn "
            "(a child recorded as unborn, or the victim is pregnant).",
            AnyOf(any=[_f("victim.pregnant", is_=True),
                       _count("children", _UNDER_12M, at_least=1)]),
            "bool",
        ),
        Derived(
            "derived.child_under_7",
            "A child of the family is under 7 years old (84 months) on the assessment date, "
            "or unborn.",
            AnyOf(any=[_f("victim.pregnant", is_=True), _count("children", _UNDER_7, at_least=1)]),
            "bool",
        ),
        Derived(
            "derived.children_in_household",
            "At least one child lives in the household.",
            _count("children", _IN_HOUSEHOLD, at_least=1),
            "bool",
        ),
        Derived(
            "derived.no_children_in_household",
            "No child lives in or regularly visits the household and the victim is not pregnant "
            "(the list of children is complete and none lives there, visits or is unborn, or there "
            "are no children); unknown while any of that is unknown.",
            _NO_CHILDREN_IN_HOUSEHOLD,
            "bool",
        ),
        Derived(
            "derived.no_children_confirmed",
            "It has been confirmed that no child lives in or regularly visits the household and that "
            "the victim is not pregnant; false while that is not established (children unknown, the "
            "list not known to be complete, a child's household unknown, pregnancy unknown).",
            _NO_CHILDREN_IN_HOUSEHOLD,
            "confirmed",
        ),
        Derived(
            "derived.incidents_last_12_months",
            "Number of incidents dated within the 12 months up to the assessment date (inclusive).",
            _count("incidents", within_months=12),
            "count",
        ),
        Derived(
            "derived.serious_incidents_last_12_months",
            "Number of incidents judged serious, dated within the 12 months up to the "
            "assessment date.",
            _count("incidents", _f("severity", is_="serious"), within_months=12),
            "count",
        ),
        Derived(
            "derived.lesser_incidents_last_12_months",
            "Number of incidents judged lesser, dated within the 12 months up to the "
            "assessment date.",
            _count("incidents", _f("severity", is_="lesser"), within_months=12),
            "count",
        ),
    ]
}


# --------------------------------------------------------------------------------------------
# The fact registry: which paths a pack may test, and what values they take.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactInfo:
    path: str
    kind: Literal["bool", "enum", "number", "date", "text", "count"]
    values: tuple[Any, ...] = ()
    description: str = ""


def _kind_of(annotation: Any) -> tuple[str, tuple[Any, ...]] | None:
    args = [a for a in get_args(annotation) if a is not type(None)]
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        if len(args) != 1:
            return None
        return _kind_of(args[0])
    if origin is Literal:
        return "enum", tuple(get_args(annotation))
    if annotation is bool:
        return "bool", (True, False)
    if annotation in (int, float):
        return "number", ()
    if annotation is date:
        return "date", ()
    if annotation is str:
        return "text", ()
    return None


def _model_facts(model: type[BaseModel], prefix: str) -> dict[str, FactInfo]:
    out: dict[str, FactInfo] = {}
    for name, f in model.model_fields.items():
        ann = f.annotation
        target = [a for a in get_args(ann) if a is not type(None)] or [ann]
        nested = isinstance(target[0], type) and issubclass(target[0], BaseModel)
        if nested and get_origin(ann) is not list:
            out.update(_model_facts(target[0], f"{prefix}{name}."))
            continue
        kind = _kind_of(ann)
        if kind is None:
            continue  # lists are reached with count
        out[prefix + name] = FactInfo(prefix + name, kind[0], kind[1], f.description or "")  # type: ignore[arg-type]
    return out


def case_facts() -> dict[str, FactInfo]:
    """Every path a pack may test with ``fact:`` at the top level of a condition."""
    facts = {k: v for k, v in _model_facts(Case, "").items()
             if k not in ("case_id", "assessment_date")}
    for d in DERIVED.values():
        facts[d.name] = FactInfo(d.name, "count" if d.kind == "count" else "bool",
                                 () if d.kind == "count" else (True, False), d.description)
    return facts


def item_facts(collection: str) -> dict[str, FactInfo]:
    """Every field a ``count`` over ``collection`` may test in its ``where``."""
    models: dict[str, type[BaseModel]] = {"children": Child, "incidents": Incident,
                                          "matrix": MatrixTick}
    model = models[collection]
    facts = _model_facts(model, "")
    if collection == "children":
        facts["age_months"] = FactInfo(
            "age_months", "number", (),
            "Age in months on the assessment date, from date_of_birth, age_months or age_years "
            "(an interval when only years are known; -9..-1 for an unborn child).",
        )
        for k in ("date_of_birth", "age_years", "name"):
            facts.pop(k, None)
    if collection == "incidents":
        facts.pop("date", None)
    return facts


# --------------------------------------------------------------------------------------------
# The per-evaluation view of a case.
# --------------------------------------------------------------------------------------------


def child_age_months(child: Child, on: date) -> Interval | None:
    """A child's age in completed months on ``on``, as an interval; None if unknown."""
    if child.unborn is True:
        return (-9.0, -1.0)
    if child.date_of_birth is not None:
        m = float(completed_months(child.date_of_birth, on))
        return (m, m)
    if child.age_months is not None:
        return (float(child.age_months), float(child.age_months))
    if child.age_years is not None:
        return (12.0 * child.age_years, 12.0 * child.age_years + 11)
    return None


def _child_view(child: Child, on: date) -> dict[str, Value]:
    view: dict[str, Value] = dict(child.__dict__)
    age = child_age_months(child, on)
    view["age_months"] = age
    if child.unborn is None and age is not None:
        view["unborn"] = False  # a child with a known age has been born
    return view


class CaseView:
    """What conditions read for one case: the case, its lists as dictionaries, cached.

    ``memo`` holds what the engines computed once for this case (derived facts, counts); a view
    belongs to one case and one evaluation, so the case must not change while it is in use.
    """

    __slots__ = ("__dict__", "case", "_items", "memo")

    def __init__(self, case: Case) -> None:
        self.case = case
        self._items: dict[str, tuple[list[dict[str, Value]] | None, Truth]] = {}
        self.memo: dict[Any, Any] = {}

    def __repr__(self) -> str:
        return f"CaseView({self.case!r})"

    @property
    def on(self) -> date:
        return self.case.assessment_date

    def items(self, collection: str) -> tuple[list[dict[str, Value]] | None, Truth]:
        """The items of a list and whether the list is complete (None items = list unknown)."""
        cached = self._items.get(collection)
        if cached is not None:
            return cached
        c = self.case
        result: tuple[list[dict[str, Value]] | None, Truth]
        if collection == "children":
            if c.children is None:
                result = (None, None)
            else:
                complete = True if not c.children else c.children_complete
                result = ([_child_view(ch, c.assessment_date) for ch in c.children], complete)
        elif collection == "incidents":
            result = (None, None) if c.incidents is None else (
                [dict(i.__dict__) for i in c.incidents], c.incidents_complete)
        else:
            result = (None, None) if c.matrix is None else (
                [dict(t.__dict__) for t in c.matrix], True)
        self._items[collection] = result
        return result
