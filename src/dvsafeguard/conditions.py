"""The condition language of rule packs, and its three-valued meaning.

A condition is plain data (YAML) — ``all`` / ``any`` / ``not``, a test of one fact, a count over a
list of the case (children, incidents, matrix ticks) with an optional time window, or (for action
rules) a test of the outcome already decided. There is no ``eval`` and no Python in a pack.

Every condition is evaluated in Kleene's three-valued logic: ``True``, ``False`` or ``None``
(*unknown*). A test of an unknown fact is unknown, never false; ``all`` is false as soon as one
part is false, ``any`` is true as soon as one part is true. Numbers may be intervals (a child
known to be "1 year old" is 12–23 months old); a count over a list that may be incomplete has no
upper bound.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

Truth = bool | None
Scalar = bool | int | float | str
Interval = tuple[float, float | None]  # (low, high); high None = no upper bound
Value = Scalar | Interval | None
Collection = Literal["children", "incidents", "matrix"]


_OPS: dict[int, tuple[Any, tuple[str, Any]]] = {}


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class AllOf(_Node):
    """True when every part is true."""

    all: list[Condition] = Field(min_length=1)


class AnyOf(_Node):
    """True when at least one part is true."""

    any: list[Condition] = Field(min_length=1)


class NotOf(_Node):
    """True when the part is false (and unknown when the part is unknown)."""

    not_: Condition = Field(alias="not")


class FactTest(_Node):
    """A test of one fact: exactly one of ``is``, ``in``, ``lt``, ``lte``, ``gt``, ``gte``."""

    fact: str = Field(
        description="Dotted path of a case fact, e.g. victim.pregnant or assessments.dash.")
    is_: Scalar | None = Field(default=None, alias="is")
    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1)
    lt: float | None = None
    lte: float | None = None
    gt: float | None = None
    gte: float | None = None

    def op(self) -> tuple[str, Any]:
        hit = _OPS.get(id(self))
        if hit is not None:
            return hit[1]
        given = (("is", self.is_), ("in", self.in_), ("lt", self.lt), ("lte", self.lte),
                 ("gt", self.gt), ("gte", self.gte))
        ops = [(k, v) for k, v in given if v is not None]
        if len(ops) != 1:
            raise ValueError(
                f"a fact test needs exactly one of is/in/lt/lte/gt/gte, got {len(ops)}")
        _OPS[id(self)] = (self, ops[0])  # keeps the node alive, so its id is never reused
        return ops[0]


class CountTest(_Node):
    """How many items of a list match ``where`` (and fall in ``within_months``), compared to a bound."""  # noqa: E501 - the docstring is the schema's description

    count: Collection
    where: Condition | None = None
    within_months: int | None = Field(
        default=None, ge=1, le=600,
        description="Only items dated within this many months before the assessment date "
        "(inclusive).",
    )
    at_least: int | None = Field(default=None, ge=0)
    at_most: int | None = Field(default=None, ge=0)


class OutcomeTest(_Node):
    """A test of the outcome decided by the pack's outcome rules (action rules only)."""

    outcome: OutcomeBound


class OutcomeBound(_Node):
    at_least: str | None = None
    at_most: str | None = None
    in_: list[str] | None = Field(default=None, alias="in", min_length=1)


def _discriminate(v: Any) -> str | None:
    if isinstance(v, dict):
        keys = set(v)
    elif isinstance(v, BaseModel):
        return {AllOf: "all", AnyOf: "any", NotOf: "not", FactTest: "fact",
                CountTest: "count", OutcomeTest: "outcome"}.get(type(v))
    else:
        return None
    for key in ("all", "any", "not", "fact", "count", "outcome"):
        if key in keys:
            return key
    return None


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")]
    | Annotated[FactTest, Tag("fact")]
    | Annotated[CountTest, Tag("count")]
    | Annotated[OutcomeTest, Tag("outcome")],
    Discriminator(
        _discriminate,
        custom_error_type="condition",
        custom_error_message=(
            "a condition needs one of the keys all, any, not, fact, count, outcome"),
    ),
]

for _m in (AllOf, AnyOf, NotOf, CountTest, OutcomeTest):
    _m.model_rebuild()


# --------------------------------------------------------------------------------------------
# Three-valued primitives, shared by the compiled engine, the durable-rules engine's feature
# encoding and the explainer.
# --------------------------------------------------------------------------------------------


def kleene_all(values: list[Truth]) -> Truth:
    unknown = False
    for v in values:
        if v is False:
            return False
        if v is None:
            unknown = True
    return None if unknown else True


def kleene_any(values: list[Truth]) -> Truth:
    unknown = False
    for v in values:
        if v is True:
            return True
        if v is None:
            unknown = True
    return None if unknown else False


def as_interval(value: Value) -> Interval | None:
    """A number or interval as ``(low, high)``; ``None`` if unknown."""
    if value is None or isinstance(value, bool | str):
        return None
    if isinstance(value, tuple):
        return value
    return (float(value), float(value))


def compare(op: str, value: Value, bound: Any) -> Truth:
    """Three-valued comparison of a fact value (scalar or interval) against a bound."""
    if value is None:
        return None
    if op == "is":
        if isinstance(value, tuple):
            iv = value
            if iv[0] == iv[1] == bound:
                return True
            return None if iv[0] <= bound and (iv[1] is None or bound <= iv[1]) else False
        equal: bool = value == bound
        return equal
    if op == "in":
        if isinstance(value, tuple):  # a number known only as an interval (e.g. a count)
            lo, hi = value
            hits = [b for b in bound if not isinstance(b, (bool, str)) and lo <= b and (hi is None or b <= hi)]
            if lo == hi:
                return bool(hits)
            return None if hits else False
        return value in bound
    interval = as_interval(value)
    if interval is None:
        return False  # comparing a non-number: refused by pack validation; never reached
    return interval_compare(op, interval[0], interval[1], bound)


def interval_compare(op: str, lo: float, hi: float | None, bound: Any) -> Truth:
    """Three-valued ``lt``/``lte``/``gt``/``gte`` of a number known to lie in ``lo``..``hi``."""
    if op == "lt":
        return True if hi is not None and hi < bound else (False if lo >= bound else None)
    if op == "lte":
        return True if hi is not None and hi <= bound else (False if lo > bound else None)
    if op == "gt":
        return True if lo > bound else (False if hi is not None and hi <= bound else None)
    if op == "gte":
        return True if lo >= bound else (False if hi is not None and hi < bound else None)
    raise ValueError(f"unknown operator {op}")


def count_truth(lo: int, hi: int | None, at_least: int | None, at_most: int | None) -> Truth:
    parts: list[Truth] = []
    if at_least is not None:
        parts.append(True if lo >= at_least
                     else (False if hi is not None and hi < at_least else None))
    if at_most is not None:
        parts.append(True if hi is not None and hi <= at_most
                     else (False if lo > at_most else None))
    return kleene_all(parts) if parts else True


def months_before(d: date, months: int) -> date:
    """The calendar date ``months`` months before ``d`` (day clamped to the month's length).

    Before the first representable date it is ``date.min``: every dated item is then inside the
    window, as it would be.
    """
    y, m = divmod(d.year * 12 + (d.month - 1) - months, 12)
    if y < date.min.year:
        return date.min
    month = m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(y, month, day)
        except ValueError:
            continue
    raise ValueError(d)  # pragma: no cover - 28 always exists


def walk(cond: Condition) -> Iterator[Condition]:
    """Every node of a condition tree, parents first (counts' ``where`` included)."""
    yield cond
    if isinstance(cond, AllOf):
        for c in cond.all:
            yield from walk(c)
    elif isinstance(cond, AnyOf):
        for c in cond.any:
            yield from walk(c)
    elif isinstance(cond, NotOf):
        yield from walk(cond.not_)
    elif isinstance(cond, CountTest) and cond.where is not None:
        yield from walk(cond.where)


ItemGetter = Callable[[dict[str, Value]], Truth]


_OP_WORDS = {"is": "is", "in": "is one of", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}


def describe(cond: Condition) -> str:
    """A condition in words, e.g. ``victim.pregnant is true``."""
    if isinstance(cond, AllOf):
        return "(" + " and ".join(describe(c) for c in cond.all) + ")"
    if isinstance(cond, AnyOf):
        return "(" + " or ".join(describe(c) for c in cond.any) + ")"
    if isinstance(cond, NotOf):
        return f"not {describe(cond.not_)}"
    if isinstance(cond, FactTest):
        op, bound = cond.op()
        shown = json.dumps(bound) if not isinstance(bound, list) else ", ".join(map(str, bound))
        return f"{cond.fact} {_OP_WORDS[op]} {shown}"
    if isinstance(cond, CountTest):
        what = cond.count + (f" where {describe(cond.where)}" if cond.where is not None else "")
        if cond.within_months:
            what += f" within {cond.within_months} months"
        bounds = []
        if cond.at_least is not None:
            bounds.append(f"at least {cond.at_least}")
        if cond.at_most is not None:
            bounds.append(f"at most {cond.at_most}")
        return f"{' and '.join(bounds)} of {what}"
    if isinstance(cond, OutcomeTest):
        b = cond.outcome
        parts = [f"at least {b.at_least}" if b.at_least else "", f"at most {b.at_most}" if b.at_most else "",
                 f"one of {', '.join(b.in_)}" if b.in_ else ""]
        return "outcome " + " and ".join(p for p in parts if p)
    return str(cond)  # pragma: no cover


def count_label(cond: CountTest) -> str:
    """How a decision names the number a count condition reads.

    For example ``count(incidents where severity is "serious" within 12 months)``.
    """
    label: str = cond.count
    if cond.where is not None:
        label += f" where {describe(cond.where)}"
    if cond.within_months:
        label += f" within {cond.within_months} months"
    return f"count({label})"
