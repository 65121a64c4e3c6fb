"""What changed between two packs — in the text and in the outcomes.

``diff_packs(a, b)`` answers two questions a board asks before signing off a revision (or before
borrowing another board's procedure):

* **Structure** — which metadata, ladder levels, rules (their conditions and effects), actions,
  notes, invariants and cited paragraphs were added, removed or changed. Items are matched by id
  and, failing that, by citation (the same paragraph and quote, then the same paragraph when it
  is unique on both sides), so a renamed rule is reported as changed, not as removed and added.
* **Outcomes** — which families would now be treated differently: for every pair (outcome under
  A, outcome under B) that occurs, how many cases of the searched space fall in it and a minimal
  witness case (fewest facts set) with both decisions. The same is done for the shared outcome
  dimensions (children's social care referral, MARAC, early help) — the only comparison across
  boards, whose ladders differ — and for required actions when both packs are of one board.

How the outcome search works
----------------------------
Every fact the two packs test gets a finite domain that represents all its behaviours: a yes/no
fact is unknown/true/false; an enumerated fact is unknown, each value tested and one value never
tested; a number is unknown and the integers either side of every threshold. A list (children,
incidents, matrix ticks) is represented by the smallest lists that reach each combination of the
counts the packs make over it (each child's age either side of every age threshold, unborn, age
only known in years; incidents dated inside and outside each time window; ...), with the list
known complete or not, keeping one list per distinct combination of count results.

The decision under a pack depends on the facts only through its rules' truth values, and the
outcome combines those by taking the highest level. Facts are therefore split into *groups*: two
facts are in one group when some rule of either pack reads both. Each group's domain product is
enumerated on its own (its rules evaluated with the compiled engine, once for each class of
outcome ranges the rule's outcome tests can see), and the groups are combined by dynamic
programming over (outcome range under A, outcome range under B, the value being compared), which
counts every case of the full product and finds the one with fewest facts set in each cell —
without enumerating the product itself. Every reported witness is then evaluated in full under
both packs and checked against its cell.

A group whose product exceeds ``max_cases`` is sampled instead (seeded, so reproducible); the
witnesses are then shrunk (facts reset to unknown or to simpler values while the case stays in
its cell) and the report says the search was not exhaustive.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from .conditions import (
    AllOf,
    AnyOf,
    Condition,
    CountTest,
    FactTest,
    NotOf,
    OutcomeTest,
    Truth,
    compare,
    count_truth,
    describe,
    months_before,
    walk,
)
from .decision import Decision
from .derive import DERIVED, CaseView, case_facts, item_facts
from .engine import CompiledPack, compiled, count_range
from .errors import InputError, Problem
from .evaluate import evaluate
from .facts import Case, Child, Incident, MatrixTick
from .pack import DIMENSIONS, Pack, Rule, load_pack

DEFAULT_MAX_CASES = 200_000
"""Largest group of interacting facts enumerated in full; larger groups are sampled."""

Format = Literal["text", "markdown", "json"]
FORMATS: tuple[Format, ...] = ("text", "markdown", "json")


# ============================================================================================
# Report models
# ============================================================================================


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Section = Literal["metadata", "ladder", "rule", "action", "note", "invariant", "citation"]
MatchedBy = Literal["id", "citation", "paragraph"]


class FieldChange(_Out):
    """One field that differs between the matched items (values as in the packs' YAML)."""

    field: str
    a: Any = None
    b: Any = None


class Change(_Out):
    """An item added, removed or changed between pack A and pack B."""

    section: Section
    change: Literal["added", "removed", "changed"]
    id: str
    id_b: str | None = None
    matched_by: MatchedBy | None = None
    paragraph: str | None = None
    title: str | None = None
    fields: list[FieldChange] = []


class StructuralDiff(_Out):
    changes: list[Change]

    def of(self, section: Section, change: str | None = None) -> list[Change]:
        return [c for c in self.changes if c.section == section and (change is None or c.change == change)]


class PackInfo(_Out):
    ref: str
    id: str
    board: str
    title: str
    version: str
    sha256: str
    path: str | None
    ladder: list[str]
    dimensions: list[str]


class RuleRef(_Out):
    id: str
    title: str
    paragraph: str
    outcome: str | None = None
    sets: dict[str, str] = {}


class ActionRef(_Out):
    id: str
    kind: str
    text: str
    paragraph: str
    because: list[str]


class DimensionRef(_Out):
    value: str
    because: list[str]
    paragraphs: list[str]


class DecisionSummary(_Out):
    """What a witness's decision says, with the rules and paragraphs behind it."""

    pack: str
    outcome: str
    label: str
    settled: bool
    lowest: str
    highest: str
    by_default: bool
    established_by: list[RuleRef]
    default_paragraph: str | None
    rules: list[RuleRef]
    dimensions: dict[str, DimensionRef]
    actions: list[ActionRef]


class Witness(_Out):
    """A minimal case of a cell (fewest facts set), as a case file, and both decisions."""

    facts_set: int
    case: dict[str, Any]
    a: DecisionSummary
    b: DecisionSummary


class Cell(_Out):
    """Cases on which A and B differ in one respect: ``subject`` is A's ``a`` and B's ``b``."""

    kind: Literal["outcome", "dimension", "action"]
    subject: str
    a: str
    b: str
    cases: int
    share: float
    witness: Witness
    paragraph_a: str | None = None
    paragraph_b: str | None = None


class GroupInfo(_Out):
    facts: list[str]
    size: int
    searched: int
    exhaustive: bool


class SearchInfo(_Out):
    exhaustive: bool
    space: int
    searched: int
    evaluations: int
    seconds: float | None = None
    """Time taken; left out of the JSON report (which is byte-identical between runs)."""
    max_cases: int
    assessment_date: date
    compared: list[str]
    groups: list[GroupInfo]
    notes: list[str]


class PackDiff(_Out):
    """Everything that differs between two packs, structurally and in outcomes."""

    a: PackInfo
    b: PackInfo
    same_ladder: bool
    structural: StructuralDiff
    outcomes: list[Cell]
    dimensions: list[Cell]
    actions: list[Cell]
    search: SearchInfo

    @property
    def cells(self) -> list[Cell]:
        return [*self.outcomes, *self.dimensions, *self.actions]

    @property
    def differs(self) -> bool:
        return bool(self.structural.changes or self.cells)

    def to_json(self) -> str:
        """The diff as JSON: the same packs and options give the same bytes (the time taken,
        ``search.seconds``, is left out; text and Markdown show it)."""
        return self.model_dump_json(indent=2, exclude={"search": {"seconds"}})


# ============================================================================================
# Structural diff
# ============================================================================================


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, date):
        return value.isoformat()
    return value


def _cite(item: Any) -> tuple[str, str] | None:
    c = getattr(item, "citation", None)
    if c is not None:
        return (c.paragraph, c.quote)
    p = getattr(item, "paragraph", None)
    return (p, "") if isinstance(p, str) else None


def _match(items_a: Sequence[Any], items_b: Sequence[Any]) -> list[tuple[Any, Any, MatchedBy | None]]:
    """Pair items by id, then by citation (paragraph and quote), then by a paragraph unique on both
    sides. Unpaired items come back with ``None`` on the other side."""
    pairs: list[tuple[Any, Any, MatchedBy | None]] = []
    b_by_id = {x.id: x for x in items_b}
    rest_a = []
    used: set[int] = set()
    for x in items_a:
        y = b_by_id.get(x.id)
        if y is not None:
            pairs.append((x, y, "id"))
            used.add(id(y))
        else:
            rest_a.append(x)
    rest_b = [y for y in items_b if id(y) not in used]
    passes: list[tuple[MatchedBy, Callable[[Any], Any]]] = [
        ("citation", _cite),
        ("paragraph", lambda i: (_cite(i) or ("", ""))[0] or None),
    ]
    for how, key in passes:
        still_a = []
        for x in rest_a:
            k = key(x)
            same_a = [o for o in rest_a if k is not None and key(o) == k]
            cands = [y for y in rest_b if k is not None and key(y) == k]
            if len(cands) == 1 and len(same_a) == 1:
                pairs.append((x, cands[0], how))
                rest_b.remove(cands[0])
            else:
                still_a.append(x)
        rest_a = still_a
    pairs.extend((x, None, None) for x in rest_a)
    pairs.extend((None, y, None) for y in rest_b)
    return pairs


_FIELDS: dict[str, tuple[str, ...]] = {
    "ladder": ("label", "citation"),
    "rule": ("title", "citation", "when", "outcome", "sets", "actions", "reading", "factor"),
    "action": ("text", "kind", "who", "deadline", "in_writing", "citation"),
    "note": ("paragraph", "text"),
    "invariant": ("description", "given", "outcome_at_least", "outcome_at_most"),
}
_META = (
    "id",
    "board",
    "title",
    "version",
    "in_force",
    "source",
    "default_outcome",
    "combination",
    "dimensions",
    "risk_facts",
)


def _title(item: Any) -> str | None:
    for attr in ("title", "label", "text", "description"):
        v = getattr(item, attr, None)
        if isinstance(v, str):
            return v
    return None


def structural_diff(a: Pack, b: Pack) -> StructuralDiff:
    """Metadata, ladder, rules, actions, notes, invariants and citations added/removed/changed."""
    changes: list[Change] = []
    meta = [
        FieldChange(field=f, a=_dump(getattr(a, f)), b=_dump(getattr(b, f)))
        for f in _META
        if _dump(getattr(a, f)) != _dump(getattr(b, f))
    ]
    if meta:
        changes.append(Change(section="metadata", change="changed", id=a.id, id_b=b.id, fields=meta))
    if a.level_ids != b.level_ids and sorted(a.level_ids) == sorted(b.level_ids):
        changes.append(
            Change(
                section="ladder",
                change="changed",
                id="order",
                fields=[FieldChange(field="order", a=a.level_ids, b=b.level_ids)],
            )
        )
    sections: list[tuple[Section, Sequence[Any], Sequence[Any]]] = [
        ("ladder", a.ladder, b.ladder),
        ("rule", a.rules, b.rules),
        ("action", a.actions, b.actions),
        ("note", a.notes, b.notes),
        ("invariant", a.invariants, b.invariants),
    ]
    for section, items_a, items_b in sections:
        for x, y, how in _match(items_a, items_b):
            item = x if x is not None else y
            cite = _cite(item)
            para = cite[0] if cite else None
            if x is None:
                changes.append(Change(section=section, change="added", id=y.id, paragraph=para, title=_title(y)))
            elif y is None:
                changes.append(Change(section=section, change="removed", id=x.id, paragraph=para, title=_title(x)))
            else:
                fields = [
                    FieldChange(field=f, a=_dump(getattr(x, f)), b=_dump(getattr(y, f)))
                    for f in _FIELDS[section]
                    if _dump(getattr(x, f)) != _dump(getattr(y, f))
                ]
                if x.id != y.id:
                    fields.insert(0, FieldChange(field="id", a=x.id, b=y.id))
                if fields:
                    changes.append(
                        Change(
                            section=section,
                            change="changed",
                            id=x.id,
                            id_b=y.id,
                            matched_by=how,
                            paragraph=para,
                            title=_title(y),
                            fields=fields,
                        )
                    )
    cited_a, cited_b = _citations(a), _citations(b)
    for para in sorted(set(cited_a) | set(cited_b), key=_paragraph_key):
        qa, qb = cited_a.get(para), cited_b.get(para)
        if qa == qb:
            continue
        kind: Literal["added", "removed", "changed"] = "added" if qa is None else "removed" if qb is None else "changed"
        changes.append(
            Change(
                section="citation",
                change=kind,
                id=para,
                paragraph=para,
                fields=[FieldChange(field="quotes", a=qa, b=qb)],
            )
        )
    return StructuralDiff(changes=changes)


def _citations(pack: Pack) -> dict[str, list[str]]:
    """Paragraph → the distinct quotes cited from it anywhere in the pack."""
    out: dict[str, list[str]] = {}
    cites = [lv.citation for lv in pack.ladder] + [pack.combination.citation]
    cites += [r.citation for r in pack.rules] + [x.citation for x in pack.actions]
    for c in cites:
        quotes = out.setdefault(c.paragraph, [])
        if c.quote not in quotes:
            quotes.append(c.quote)
    return {k: sorted(v) for k, v in out.items()}


def _paragraph_key(p: str) -> tuple[Any, ...]:
    parts: list[tuple[int, Any]] = []
    for tok in p.replace(",", " ").replace(".", " ").split():
        parts.append((0, int(tok)) if tok.isdigit() else (1, tok))
    return tuple(parts)


# ============================================================================================
# The fact space: which facts the packs read, and a finite domain for each
# ============================================================================================

_FLAG_OF = {"children": "children_complete", "incidents": "incidents_complete"}
_COLLECTION_OF_FLAG = {v: k for k, v in _FLAG_OF.items()}
_ITEM_MODEL: dict[str, type[BaseModel]] = {
    "children": Child,
    "incidents": Incident,
    "matrix": MatrixTick,
}

Test = tuple[str, Any]  # (operator, bound) with 'in' bounds as tuples


def _test_of(node: FactTest) -> Test:
    op, bound = node.op()
    return (op, tuple(bound) if op == "in" else bound)


def _item_field(col: str, fact: str) -> str:
    """The field a count's ``where`` reads; a child's age and being unborn are one field."""
    return "age" if col == "children" and fact in ("unborn", "age_months") else fact


@dataclass
class _Count:
    """One count a pack makes over a list (its ``where`` and window), with every test of it."""

    key: str
    node: CountTest
    fields: frozenset[str]
    tests: list[tuple[str, Any, Any]] = field(default_factory=list)  # ("count", at_least, at_most) | (op, bound, None)

    @property
    def cap(self) -> int:
        """Counts above this are all alike for every test of this count."""
        cap = 1
        for kind, x, y in self.tests:
            if kind == "count":
                cap = max(cap, x or 0, (y + 1) if y is not None else 0)
            elif kind == "in":
                cap = max(cap, *(math.floor(v) + 1 for v in x))
            else:
                cap = max(cap, math.floor(x) + 1)
        return cap


@dataclass
class _Usage:
    scalars: dict[str, list[Test]] = field(default_factory=dict)
    counts: dict[str, _Count] = field(default_factory=dict)
    item_tests: dict[str, dict[str, list[Test]]] = field(default_factory=dict)
    flag_tests: dict[str, list[Test]] = field(default_factory=dict)

    def count(self, node: CountTest, test: tuple[str, Any, Any]) -> str:
        bare = node.model_copy(update={"at_least": None, "at_most": None})
        key = bare.model_dump_json(by_alias=True)
        entry = self.counts.get(key)
        if entry is None:
            fields = (
                {_item_field(node.count, sub.fact) for sub in walk(node.where) if isinstance(sub, FactTest)}
                if node.where is not None
                else set()
            )
            if node.within_months:
                fields.add("date")
            entry = self.counts[key] = _Count(key, bare, frozenset(fields))
        if test not in entry.tests:
            entry.tests.append(test)
        if node.where is not None:
            tests = self.item_tests.setdefault(node.count, {})
            for sub in walk(node.where):
                if isinstance(sub, FactTest):
                    tests.setdefault(sub.fact, []).append(_test_of(sub))
        return key


def _scan(cond: Condition, usage: _Usage, variables: dict[str, None], touched: dict[str, set[str]]) -> None:
    """Record the facts a condition reads (derived facts expanded to what they read) and, for each
    list it counts over, which counts."""
    if isinstance(cond, AllOf | AnyOf):
        for c in cond.all if isinstance(cond, AllOf) else cond.any:
            _scan(c, usage, variables, touched)
    elif isinstance(cond, NotOf):
        _scan(cond.not_, usage, variables, touched)
    elif isinstance(cond, FactTest):
        if cond.fact in DERIVED:
            d = DERIVED[cond.fact]
            if d.kind == "count":
                assert isinstance(d.definition, CountTest)
                op, bound = _test_of(cond)
                key = usage.count(d.definition, (op, bound, None))
                variables.setdefault(d.definition.count, None)
                touched.setdefault(d.definition.count, set()).add(key)
            else:
                _scan(d.definition, usage, variables, touched)
        elif cond.fact in _COLLECTION_OF_FLAG:
            col = _COLLECTION_OF_FLAG[cond.fact]
            usage.flag_tests.setdefault(col, []).append(_test_of(cond))
            variables.setdefault(col, None)
        else:
            usage.scalars.setdefault(cond.fact, []).append(_test_of(cond))
            variables.setdefault(cond.fact, None)
    elif isinstance(cond, CountTest):
        key = usage.count(cond, ("count", cond.at_least, cond.at_most))
        variables.setdefault(cond.count, None)
        touched.setdefault(cond.count, set()).add(key)


@dataclass
class _Val:
    """One value of a variable: the facts it sets (dotted path → value) and how many.

    A value may stand for several cases that behave alike (``weight``): a group of facts read only
    inside one part of a condition is searched through that part's truth (true / false / unknown),
    each represented by its smallest case and weighted by how many cases give it."""

    assign: dict[str, Any]
    size: int
    label: str
    weight: int = 1


@dataclass(frozen=True)
class _Items:
    """A list of ``m`` items, assembled from the columns (field groups) chosen for it."""

    m: int


@dataclass
class _Var:
    name: str
    values: list[_Val]
    facts: list[str]


def _bounds_of(model: type[BaseModel], name: str) -> tuple[float | None, float | None]:
    lo: float | None = None
    hi: float | None = None
    for m in model.model_fields[name].metadata:
        if isinstance(m, Ge):
            lo = float(m.ge)  # type: ignore[arg-type]
        elif isinstance(m, Le):
            hi = float(m.le)  # type: ignore[arg-type]
    return lo, hi


def _model_of(path: str) -> tuple[type[BaseModel], str]:
    model: type[BaseModel] = Case
    parts = path.split(".")
    for part in parts[:-1]:
        ann = model.model_fields[part].annotation
        assert isinstance(ann, type) and issubclass(ann, BaseModel), path
        model = ann
    return model, parts[-1]


def _numbers(tests: Iterable[Test], lo: float | None, hi: float | None) -> list[int]:
    """Integers either side of every bound tested, within the field's range."""
    cands: set[int] = set()
    for op, bound in tests:
        for b in bound if op == "in" else (bound,):
            if isinstance(b, bool) or not isinstance(b, int | float):
                continue
            f, c = math.floor(b), math.ceil(b)
            cands.update((f - 1, f, c, c + 1))
    out = sorted(x for x in cands if (lo is None or x >= lo) and (hi is None or x <= hi))
    if not out:
        out = [int(lo) if lo is not None else 0]
    return out


def _choices(
    kind: str, values: tuple[Any, ...], tests: list[Test], bounds: tuple[float | None, float | None]
) -> list[Any]:
    """Known values representing every behaviour of a fact under the tests made of it."""
    if kind == "bool":
        return [True, False]
    if kind == "enum":
        tested = {v for op, b in tests for v in (b if op == "in" else (b,))}
        return [v for v in values if v in tested] + [v for v in values if v not in tested][:1]
    if kind == "number":
        return list(_numbers(tests, *bounds))
    return []


def _label(v: Any) -> str:
    return json.dumps(v) if not isinstance(v, str) else v


def _scalar_var(path: str, tests: list[Test]) -> _Var:
    info = case_facts()[path]
    model, name = _model_of(path)
    values = [_Val({path: None}, 0, "unknown")]
    values += [_Val({path: v}, 1, _label(v)) for v in _choices(info.kind, info.values, tests, _bounds_of(model, name))]
    return _Var(path, values, [path])


def facts_set(case: Case) -> int:
    """How many facts a case sets: each known value counts one; a list given as empty counts one;
    each item of a list counts one (that it exists) plus one for each of its known fields."""

    def count(v: Any) -> int:
        if isinstance(v, dict):
            return sum(count(x) for x in v.values())
        if isinstance(v, list):
            return 1 if not v else sum(1 + count(i) for i in v)
        return 0 if v is None else 1

    data = case.model_dump(exclude_defaults=True)
    data.pop("assessment_date", None)
    data.pop("case_id", None)
    return count(data)


def _field_options(
    col: str, name: str, tests: dict[str, list[Test]], windows: list[int], on: date
) -> list[dict[str, Any]]:
    """The values one field of an item takes in the search: unknown (if optional) and a value for
    each behaviour under the tests made of it."""
    if name == "age":
        opts: list[dict[str, Any]] = [{}, {"unborn": True}]
        if "unborn" in tests:
            opts.append({"unborn": False})
        age_tests = tests.get("age_months", [])
        opts += [{"age_months": m} for m in _numbers(age_tests, 0, 215)] if age_tests else []
        years: list[int] = []
        for op, bound in age_tests:  # an age known only in years may straddle a threshold
            for y in range(18):
                if compare(op, (12.0 * y, 12.0 * y + 11), bound) is None:
                    if y not in years:
                        years.append(y)
                    break
        return opts + [{"age_years": y} for y in sorted(years)]
    if name == "date":
        dates: list[dict[str, Any]] = [{}]
        for w in sorted(set(windows)):
            edge = months_before(on, w)
            dates += [{"date": edge}, {"date": edge - timedelta(days=1)}]
        return dates
    model = _ITEM_MODEL[col]
    info = item_facts(col)[name]
    choices = _choices(info.kind, info.values, tests.get(name, []), _bounds_of(model, name))
    required = model.model_fields[name].is_required()
    return ([] if required else [{}]) + [{name: v} for v in choices]


def _make_case(on: date, assign: dict[str, Any]) -> Case:
    data: dict[str, Any] = {"assessment_date": on}
    for path, value in assign.items():
        if value is None:
            continue
        head, _, tail = path.partition(".")
        if tail:
            data.setdefault(head, {})[tail] = value
        else:
            data[head] = [dict(i) for i in value] if isinstance(value, list) else value
    return Case.model_validate(data)


def _count_truths(counts: Sequence[_Count], ranges: Sequence[tuple[int, int | None]]) -> tuple[Truth, ...]:
    out: list[Truth] = []
    for entry, (lo, hi) in zip(counts, ranges, strict=True):
        for kind, x, y in entry.tests:
            if kind == "count":
                out.append(count_truth(lo, hi, x, y))
            else:
                out.append(compare(kind, (float(lo), None if hi is None else float(hi)), x))
    return tuple(out)


def _names(c: Condition) -> list[str]:
    names: dict[str, None] = {}
    _scan(c, _Usage(), names, {})
    return list(names)


def _split(cond: Condition) -> list[Condition]:
    """The condition as ``any`` of parts reading disjoint facts (one part if it has none).

    A rule is certain exactly when one of the parts is, and possible exactly when one of them is,
    so the search may treat each part as a rule of its own with the rule's effects — and the facts
    of different parts fall into different groups. ``all`` distributes over ``any`` (also in
    three-valued logic) when its other parts read no fact (outcome tests)."""
    if isinstance(cond, AnyOf):
        parts = [p for c in cond.any for p in _split(c)]
        names = [set(_names(p)) for p in parts]
        merged: list[tuple[set[str], list[Condition]]] = []
        for part, ns in zip(parts, names, strict=True):
            joined = [m for m in merged if m[0] & ns or (not ns and not m[0])]
            keep = [m for m in merged if not any(m is j for j in joined)]
            vs, ps = set(ns), [part]
            for m in joined:
                vs |= m[0]
                ps = m[1] + ps
            merged = [*keep, (vs, ps)]
        return [ps[0] if len(ps) == 1 else AnyOf(any=ps) for _, ps in merged]
    if isinstance(cond, AllOf):
        with_facts = [c for c in cond.all if _names(c)]
        if len(with_facts) != 1:
            return [cond]
        inner = _split(with_facts[0])
        if len(inner) == 1:
            return [cond]
        rest = [c for c in cond.all if c is not with_facts[0]]
        return [AllOf(all=[*rest, part]) for part in inner]
    return [cond]


def _private_groups(conditions: list[Condition]) -> list[tuple[str, Condition, list[str]]]:
    """Parts of ``any``/``all`` conditions whose facts are read nowhere else.

    For each ``any`` (``all``) node, the children whose yes/no and value facts are read only
    inside that very child of nodes written exactly like it (in either pack) form a group: the
    rest of the search sees them only through the truth of their ``any`` (``all``) — three values
    instead of the product of their facts' values."""
    occurrences: dict[str, list[frozenset[tuple[str, str]]]] = {}
    nodes: dict[str, AllOf | AnyOf] = {}

    def key(c: Condition) -> str:
        return c.model_dump_json(by_alias=True, exclude_none=True)

    names_of = _names

    def visit(c: Condition, chain: frozenset[tuple[str, str]]) -> None:
        if isinstance(c, AllOf | AnyOf):
            k = key(c)
            nodes.setdefault(k, c)
            for child in c.all if isinstance(c, AllOf) else c.any:
                visit(child, chain | {(k, key(child))})
        elif isinstance(c, NotOf):
            visit(c.not_, chain)
        else:
            for n in names_of(c):
                occurrences.setdefault(n, []).append(chain)

    for c in conditions:
        visit(c, frozenset())
    used: set[str] = set()
    out: list[tuple[str, Condition, list[str]]] = []
    for k, node in nodes.items():
        children = node.all if isinstance(node, AllOf) else node.any
        private: list[Condition] = []
        members: list[str] = []
        for child in children:
            ck, names = key(child), names_of(child)
            if not names or any(n in _ITEM_MODEL or n in _COLLECTION_OF_FLAG or n in used for n in names):
                continue
            if all((k, ck) in chain for n in names for chain in occurrences[n]):
                private.append(child)
                members += names
        if len(private) < 2 or len(set(members)) != len(members):
            continue
        op = "all" if isinstance(node, AllOf) else "any"
        grouped: Condition = AllOf(all=private) if op == "all" else AnyOf(any=private)
        out.append((f"{op}({', '.join(members)})", grouped, members))
        used.update(members)
    return out


GROUP_ENUMERATE = 100_000
"""Largest product of a private group's facts' values enumerated to weigh its three truths."""

MAX_ITEMS = 8
"""Longest list the search builds (lists reach every count combination well before this)."""

State = tuple[tuple[int, int], ...]


@dataclass
class _Collection:
    """A list (children, incidents, matrix ticks) in the search.

    Its *shape* variable says whether the list is known, how many items it has and whether it is
    known to be complete. The counts made over it read item fields; fields read together form a
    *field group*, and each field group of an ``m``-item shape is its own variable (a *column*:
    that group's fields for each of the ``m`` items). Columns of different groups are independent,
    so the rules reading them fall into separate groups of facts."""

    name: str
    flag: str | None
    shape: int
    groups: list[list[_Count]]
    columns: dict[tuple[int, int], int]
    filler: dict[str, Any]
    group_of: dict[str, int | None]  # count key → group (None: reads no field)


FLAT_ENUMERATE = 5_000
FLAT_LIMIT = 64
"""A list whose shapes and columns combine into at most FLAT_ENUMERATE lists, of which at most
FLAT_LIMIT behave differently, is searched as one variable (its distinct lists)."""


def _collection(
    col: str, usage: _Usage, on: date, comp: CompiledPack, out: list[_Var], evals: list[int]
) -> _Collection | None:
    counts = [c for c in usage.counts.values() if c.node.count == col]
    model = _ITEM_MODEL[col]
    flag = _FLAG_OF.get(col)
    tests = usage.item_tests.get(col, {})
    windows = [c.node.within_months for c in counts if c.node.within_months]

    # field groups: fields read by one count belong together
    parent: dict[str, str] = {}

    def find(f: str) -> str:
        while parent.setdefault(f, f) != f:
            f = parent[f]
        return f

    for c in counts:
        fs = sorted(c.fields)
        for f in fs[1:]:
            parent[find(f)] = find(fs[0])
    roots = list(dict.fromkeys(find(f) for c in counts for f in sorted(c.fields)))
    groups = [[c for c in counts if c.fields and find(min(c.fields)) == r] for r in roots]
    group_fields = [sorted({f for c in g for f in c.fields}) for g in groups]
    group_of: dict[str, int | None] = {c.key: None for c in counts if not c.fields}
    for gi, g in enumerate(groups):
        for c in g:
            group_of[c.key] = gi
    covered = (
        {"unborn", "age_months", "age_years", "date_of_birth"} if any("age" in fs for fs in group_fields) else set()
    )
    covered |= {f for fs in group_fields for f in fs}
    filler: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.is_required() and name not in covered:
            filler.update(_field_options(col, name, {}, [], on)[0])

    # each group's distinct items (by their truth under the group's counts), smallest first
    reps: list[list[tuple[tuple[Truth, ...], int, dict[str, Any]]]] = []
    for g, fields in zip(groups, group_fields, strict=True):
        fns = [comp.compiler.item(c.node.where) if c.node.where is not None else None for c in g]
        axes = [_field_options(col, f, tests, windows, on) for f in fields]
        best: dict[tuple[Truth, ...], tuple[int, int, dict[str, Any]]] = {}
        for n, combo in enumerate(itertools.product(*axes)):
            item: dict[str, Any] = dict(filler)
            for part in combo:
                item.update(part)
            assign: dict[str, Any] = {col: [item]}
            if flag:
                assign[flag] = True
            try:
                view = CaseView(_make_case(on, assign))
            except ValidationError:
                continue
            evals[0] += 1
            sig: list[Truth] = []
            for c, fn in zip(g, fns, strict=True):
                lo, hi = count_range(view, c.node, fn)
                sig.append(True if lo >= 1 else (None if hi is not None and hi >= 1 else False))
            size = sum(len(p) for p in combo)
            if tuple(sig) not in best or (size, n) < best[tuple(sig)][:2]:
                best[tuple(sig)] = (size, n, {k: v for k, v in item.items() if k not in filler})
        reps.append(sorted(((k, s, i) for k, (s, _, i) in best.items()), key=lambda r: r[1]))

    # the (capped) count states each group reaches with exactly m items, smallest columns first
    def expand(layer: dict[State, tuple[int, tuple[int, ...]]], gi: int) -> dict[State, tuple[int, tuple[int, ...]]]:
        caps = [c.cap for c in groups[gi]]
        nxt: dict[State, tuple[int, tuple[int, ...]]] = {}
        for state, (size, cols) in layer.items():
            for j, (sig, isize, _) in enumerate(reps[gi]):
                new = tuple(
                    (min(lo + (t is True), cap), min(pos + (t is not False), cap))
                    for (lo, pos), t, cap in zip(state, sig, caps, strict=True)
                )
                cand = (size + isize, tuple(sorted((*cols, j))))
                if new not in nxt or cand < nxt[new]:
                    nxt[new] = cand
        return nxt

    layers: list[list[dict[State, tuple[int, tuple[int, ...]]]]] = []
    longest = max([c.cap for c in counts if not c.fields] + [1])
    for gi, g in enumerate(groups):
        empty: tuple[int, ...] = ()
        layer: dict[State, tuple[int, tuple[int, ...]]] = {tuple((0, 0) for _ in g): (0, empty)}
        seen = set(layer)
        layers.append([layer])
        for m in range(1, MAX_ITEMS + 1):
            layer = expand(layer, gi)
            layers[gi].append(layer)
            if set(layer) <= seen:
                longest = max(longest, m - 1)
                break
            seen |= set(layer)
        else:
            longest = MAX_ITEMS
        neutral = any(all(t is False for t in sig) for sig, _, _ in reps[gi])
        if not neutral:
            longest += 1
    longest = min(max(longest, 1), MAX_ITEMS)
    for gi in range(len(groups)):
        while len(layers[gi]) <= longest:
            layers[gi].append(expand(layers[gi][-1], gi))

    # the shape variable
    flag_values: list[bool | None] = [None, True] + ([False] if col in usage.flag_tests else [])
    values = [_Val({col: None}, 0, "unknown")]
    if flag and col in usage.flag_tests:
        values += [_Val({col: None, flag: v}, 1, f"unknown, {flag}={_label(v)}") for v in (True, False)]
    if col == "children":
        values += [_Val({col: []}, 1, "none")]
        if flag and col in usage.flag_tests:
            values += [_Val({col: [], flag: True}, 2, f"none, {flag}=true")]
    elif flag:
        values += [_Val({col: [], flag: v}, 1 + (v is not None), f"none, {flag}={_label(v)}") for v in flag_values]
    else:
        values += [_Val({col: []}, 1, "none")]
    for m in range(1, longest + 1):
        for v in flag_values if flag else [None]:
            assign = {col: _Items(m)} | ({flag: v} if flag else {})
            values.append(
                _Val(
                    assign,
                    m * (1 + len(filler)) + (v is not None),
                    f"{m} item{'s' * (m != 1)}" + (f", {flag}={_label(v)}" if flag and v is not None else ""),
                )
            )
    facts = [col] + ([flag] if flag and col in usage.flag_tests else [])

    # one column variable per (shape with items, field group)
    column_vars: dict[tuple[int, int], _Var] = {}
    for si, val in enumerate(values):
        items = val.assign[col]
        if not isinstance(items, _Items):
            continue
        complete = flag is None or val.assign.get(flag) is True
        for gi, g in enumerate(groups):
            kept: dict[tuple[Truth, ...], _Val] = {}
            for state, (size, cols) in sorted(layers[gi][items.m].items(), key=lambda kv: kv[1]):
                key = _count_truths(g, [(lo, pos if complete else None) for lo, pos in state])
                if key not in kept:
                    column = [dict(reps[gi][j][2]) for j in cols]
                    kept[key] = _Val({f"{col}#columns": column}, size, _flow(column))
            column_vars[(si, gi)] = _Var(
                f"{col}[{val.label}].{'+'.join(group_fields[gi])}",
                list(kept.values()),
                [f"{col}[].{f}" for f in group_fields[gi]],
            )

    # A list with few distinct behaviours is one variable whose values are whole lists.
    flat_size = sum(
        math.prod(len(column_vars[(si, gi)].values) for gi in range(len(groups)) if (si, gi) in column_vars)
        for si in range(len(values))
    )
    if flat_size <= FLAT_ENUMERATE:
        fns = [comp.compiler.item(c.node.where) if c.node.where is not None else None for c in counts]
        flat: dict[tuple[Any, ...], _Val] = {}
        candidates: list[_Val] = []
        for si, val in enumerate(values):
            cvars = [column_vars[(si, gi)] for gi in range(len(groups)) if (si, gi) in column_vars]
            for parts in itertools.product(*(v.values for v in cvars)):
                whole = dict(val.assign)
                shape_items = whole.get(col)
                if isinstance(shape_items, _Items):
                    built = [dict(filler) for _ in range(shape_items.m)]
                    for colval in parts:
                        for item, fields in zip(built, colval.assign[f"{col}#columns"], strict=True):
                            item.update(fields)
                    whole[col] = built
                label = val.label if not parts else f"{val.label}: {_flow(whole[col])}"
                candidates.append(_Val(whole, val.size + sum(p.size for p in parts), label))
        for cand in sorted(candidates, key=lambda v: v.size):
            view = CaseView(_make_case(on, cand.assign))
            evals[0] += 1
            key2: tuple[Any, ...] = _count_truths(
                counts, [count_range(view, c.node, fn) for c, fn in zip(counts, fns, strict=True)]
            )
            if flag and col in usage.flag_tests:
                key2 += (cand.assign.get(flag),)
            flat.setdefault(key2, cand)
        if len(flat) <= FLAT_LIMIT:
            out.append(
                _Var(
                    col,
                    list(flat.values()),
                    facts + [f"{col}[].{f}" for fs in group_fields for f in fs],
                )
            )
            return None

    shape = len(out)
    out.append(_Var(col, values, facts))
    columns: dict[tuple[int, int], int] = {}
    for key3, var in column_vars.items():
        columns[key3] = len(out)
        out.append(var)
    return _Collection(col, flag, shape, groups, columns, filler, group_of)


# ============================================================================================
# Groups of interacting facts and their evaluation
# ============================================================================================


@dataclass
class _Side:
    """One pack, as the search sees it: its outcome ranges and compiled rules."""

    pack: Pack
    comp: CompiledPack
    default: int
    ranges: list[tuple[int, int]]
    range_index: dict[tuple[int, int], int]
    rules: list[Rule]
    fns: dict[str, Callable[[CaseView], Truth]]
    classes: dict[str, tuple[list[tuple[int, int]], list[int]]]  # rule → (representative ranges, class of each range)

    @classmethod
    def of(cls, pack: Pack, on: date) -> _Side:
        comp = compiled(pack)
        d = pack.rank(pack.default_outcome)
        n = len(pack.ladder)
        ranges = [(lo, hi) for lo in range(d, n) for hi in range(lo, n)]
        rules: list[Rule] = []
        for rule in pack.rules:
            parts = _split(rule.when)
            if len(parts) == 1:
                rules.append(rule)
            else:
                rules += [
                    rule.model_copy(update={"id": f"{rule.id}#{j}", "when": part}) for j, part in enumerate(parts)
                ]
        fns = {rule.id: comp.compiler.top(rule.when) for rule in rules}
        classes: dict[str, tuple[list[tuple[int, int]], list[int]]] = {}
        probe = CaseView(Case(assessment_date=on))
        for rule in rules:
            tests = [c for c in walk(rule.when) if isinstance(c, OutcomeTest)]
            if not tests:
                continue
            tfns = [comp.compiler.top(t) for t in tests]
            reps: list[tuple[int, int]] = []
            keys: list[tuple[Truth, ...]] = []
            of_range: list[int] = []
            for r in ranges:
                probe.__dict__["outcome_range"] = r
                key = tuple(f(probe) for f in tfns)
                if key not in keys:
                    keys.append(key)
                    reps.append(r)
                of_range.append(keys.index(key))
            classes[rule.id] = (reps, of_range)
        return cls(pack, comp, d, ranges, {r: i for i, r in enumerate(ranges)}, rules, fns, classes)

    def truths(self, rules: list[Rule], view: CaseView) -> tuple[Any, ...]:
        out: list[Any] = []
        for rule in rules:
            fn = self.fns[rule.id]
            cls_ = self.classes.get(rule.id)
            if cls_ is None:
                out.append(fn(view))
                continue
            reps, of_range = cls_
            per_class = []
            for r in reps:
                view.__dict__["outcome_range"] = r
                per_class.append(fn(view))
            out.append(tuple(per_class[c] for c in of_range))
        return tuple(out)


Wit = tuple[int, ...]
"""A case of the searched space: the value index of every variable (-1: not assigned yet)."""
Entry = tuple[int, int, Wit]
"""Cases in a cell of a distribution, the fewest facts any of them sets, and that case."""
Dist = dict[tuple[int, ...], Entry]

LEAF_LIMIT = 2_000
"""A group of interacting facts larger than this is split by conditioning on one fact."""


@dataclass
class _Leaf:
    """Facts enumerated together (all other facts fixed by ``context`` or independent)."""

    vars: list[int]
    rules: tuple[list[Rule], list[Rule]]
    context: dict[int, int]
    combos: int
    size: int
    searched: int = 0
    exhaustive: bool = True
    summaries: dict[tuple[Any, Any], list[Any]] = field(default_factory=dict)
    prepared: list[tuple[tuple[int, ...], list[list[int]], int, int, Wit]] = field(default_factory=list)


@dataclass
class _Cond:
    """A group split by conditioning on one fact: for each of its values, independent parts."""

    var: int
    branches: list[list[_Leaf | _Cond]]
    size: int = 0
    searched: int = 0
    exhaustive: bool = True


_Node = _Leaf | _Cond


def _merge(out: Dist, key: tuple[int, ...], count: int, size: int, wit: Wit) -> None:
    cur = out.get(key)
    if cur is None:
        out[key] = (count, size, wit)
    elif (size, wit) < (cur[1], cur[2]):
        out[key] = (cur[0] + count, size, wit)
    else:
        out[key] = (cur[0] + count, cur[1], cur[2])


def _join(k1: tuple[int, ...], k2: tuple[int, ...]) -> tuple[int, ...]:
    """Two independent parts' keys together: outcome ranges by maximum, effect masks by union."""
    return (
        max(k1[0], k2[0]),
        max(k1[1], k2[1]),
        max(k1[2], k2[2]),
        max(k1[3], k2[3]),
        *(x | y for x, y in zip(k1[4:], k2[4:], strict=True)),
    )


def _combine(d1: Dist, d2: Dist) -> Dist:
    """Independent parts together: keys joined, counts multiplied, fewest facts added."""
    out: Dist = {}
    for k1, (c1, s1, w1) in d1.items():
        for k2, (c2, s2, w2) in d2.items():
            _merge(out, _join(k1, k2), c1 * c2, s1 + s2, tuple(map(max, w1, w2)))
    return out


_RuleVars = tuple[int, Rule, frozenset[int], dict[int, frozenset[int]]]
"""(pack 0/1, rule, variables it reads, for each list it counts over: the field groups read)."""

Effect = Callable[[Rule], int]
"""The value a certain rule gives the compared effect (0: none), e.g. a dimension's rank."""


class _Search:
    def __init__(self, a: Pack, b: Pack, on: date, max_cases: int, seed: int) -> None:
        self.on = on
        self.sides = (_Side.of(a, on), _Side.of(b, on))
        self.max_cases = max_cases
        self.rng = random.Random(f"{a.sha256}:{b.sha256}:{seed}")
        self.evals = [0]
        usage = _Usage()
        scanned: list[tuple[int, Rule, list[str], dict[str, set[str]]]] = []
        for i, side in enumerate(self.sides):
            for rule in side.rules:
                names: dict[str, None] = {}
                touched: dict[str, set[str]] = {}
                _scan(rule.when, usage, names, touched)
                scanned.append((i, rule, list(names), touched))
        self.vars: list[_Var] = []
        self.collections: dict[int, _Collection] = {}
        index: dict[str, int] = {}
        private: dict[str, tuple[str, Condition, list[str]]] = {}
        for group in _private_groups([r.when for _, r, _, _ in scanned]):
            if math.prod(len(_scalar_var(n, usage.scalars[n]).values) for n in group[2]) <= GROUP_ENUMERATE:
                private.update(dict.fromkeys(group[2], group))
        for name in dict.fromkeys(n for _, _, ns, _ in scanned for n in ns):
            if name in private:
                gname, cond, members = private[name]
                if gname not in index:
                    index[gname] = len(self.vars)
                    self.vars.append(self._group_var(gname, cond, members, usage))
                index[name] = index[gname]
                continue
            if name in _ITEM_MODEL:
                col = _collection(name, usage, on, self.sides[0].comp, self.vars, self.evals)
                if col is None:  # searched as one variable of whole lists
                    index[name] = len(self.vars) - 1
                    continue
                self.collections[col.shape] = col
                index[name] = col.shape
            else:
                index[name] = len(self.vars)
                self.vars.append(_scalar_var(name, usage.scalars[name]))
        self.rule_vars: list[_RuleVars] = []
        for i, rule, ns, touched in scanned:
            touch: dict[int, frozenset[int]] = {}
            for cname, keys in touched.items():
                if index[cname] not in self.collections:
                    continue
                col = self.collections[index[cname]]
                touch[col.shape] = frozenset(g for k in keys if (g := col.group_of[k]) is not None)
            self.rule_vars.append((i, rule, frozenset(index[n] for n in ns), touch))
        self.blank: Wit = tuple(-1 for _ in self.vars)
        top_vars = [
            v for v in range(len(self.vars)) if not any(v in c.columns.values() for c in self.collections.values())
        ]
        self.top = self._build(top_vars, self.rule_vars, {})

    def _group_var(self, name: str, cond: Condition, members: list[str], usage: _Usage) -> _Var:
        """Facts read only inside one part of a condition, searched through that part's truth."""
        fn = self.sides[0].comp.compiler.top(cond)
        scalars = [_scalar_var(n, usage.scalars[n]) for n in members]
        best: dict[Truth, list[Any]] = {}
        for combo in itertools.product(*(v.values for v in scalars)):
            assign: dict[str, Any] = {}
            for val in combo:
                assign.update(val.assign)
            size = sum(val.size for val in combo)
            t = fn(CaseView(_make_case(self.on, assign)))
            self.evals[0] += 1
            entry = best.setdefault(t, [0, size, assign])
            entry[0] += 1
            if size < entry[1]:
                entry[1], entry[2] = size, assign
        values = [
            _Val(assign, size, f"{name} is {_label(t)}", weight)
            for t, (weight, size, assign) in sorted(best.items(), key=lambda kv: kv[1][1])
        ]
        return _Var(name, values, list(members))

    # ---- decomposition ---------------------------------------------------------------------
    @staticmethod
    def _components(vs: list[int], rules: list[_RuleVars]) -> list[tuple[list[int], list[_RuleVars]]]:
        """Split facts into groups read together by some rule (rules reading none: own group)."""
        parent = {v: v for v in vs}

        def find(v: int) -> int:
            while parent[v] != v:
                parent[v] = parent[parent[v]]
                v = parent[v]
            return v

        for r in rules:
            live = [v for v in r[2] if v in parent]
            for v in live[1:]:
                parent[find(v)] = find(live[0])
        groups: dict[int, tuple[list[int], list[_RuleVars]]] = {}
        for v in vs:
            groups.setdefault(find(v), ([], []))[0].append(v)
        constant: list[_RuleVars] = []
        for r in rules:
            live = [v for v in r[2] if v in parent]
            (groups[find(live[0])][1] if live else constant).append(r)
        out = list(groups.values())
        if constant:
            out.append(([], constant))
        return out

    def _cost(self, vs: list[int]) -> int:
        return math.prod(len(self.vars[v].values) for v in vs)

    def _build(self, vs: list[int], rules: list[_RuleVars], context: dict[int, int]) -> list[_Node]:
        nodes: list[_Node] = []
        for cvars, crules in self._components(vs, rules):
            shape = next((v for v in cvars if v in self.collections), None)
            if shape is not None:  # a list: one branch per shape, its columns as variables
                col = self.collections[shape]
                rest = [v for v in cvars if v != shape]
                branches = []
                for s in range(len(self.vars[shape].values)):
                    cols = {g: col.columns[(s, g)] for g in range(len(col.groups)) if (s, g) in col.columns}
                    branch_rules = [
                        (
                            i,
                            rule,
                            frozenset(
                                {v for v in rv if v != shape}
                                | {cols[g] for g in touch.get(shape, frozenset()) if g in cols}
                            ),
                            touch,
                        )
                        for i, rule, rv, touch in crules
                    ]
                    branches.append(self._build(rest + list(cols.values()), branch_rules, {**context, shape: s}))
                nodes.append(_Cond(shape, branches))
                continue
            combos = self._cost(cvars)
            split = self._separator(cvars, crules) if combos > LEAF_LIMIT else None
            if split is None:
                nodes.append(
                    _Leaf(
                        cvars,
                        (
                            [r for i, r, _, _ in crules if i == 0],
                            [r for i, r, _, _ in crules if i == 1],
                        ),
                        dict(context),
                        combos,
                        math.prod(sum(x.weight for x in self.vars[v].values) for v in cvars),
                    )
                )
                continue
            rest = [v for v in cvars if v != split]
            branches = [self._build(rest, crules, {**context, split: s}) for s in range(len(self.vars[split].values))]
            nodes.append(_Cond(split, branches))
        return nodes

    def _separator(self, vs: list[int], rules: list[_RuleVars]) -> int | None:
        """The fact whose conditioning most reduces the cases to evaluate, if it halves them."""
        best: tuple[int, int] | None = None
        for v in vs:
            rest = [u for u in vs if u != v]
            cost = len(self.vars[v].values) * sum(self._cost(c) for c, _ in self._components(rest, rules))
            if best is None or cost < best[0]:
                best = (cost, v)
        if best is None or best[0] * 2 > self._cost(vs):
            return None
        return best[1]

    def facts_of(self, node: _Node) -> list[str]:
        out: dict[str, None] = {}
        if isinstance(node, _Leaf):
            for v in node.vars:
                out.update(dict.fromkeys(self.vars[v].facts))
        else:
            out.update(dict.fromkeys(self.vars[node.var].facts))
            for branch in node.branches:
                for n in branch:
                    out.update(dict.fromkeys(self.facts_of(n)))
        return list(out)

    def leaves(self, nodes: list[_Node] | None = None) -> Iterable[_Leaf]:
        for n in self.top if nodes is None else nodes:
            if isinstance(n, _Leaf):
                yield n
            else:
                for branch in n.branches:
                    yield from self.leaves(branch)

    # ---- evaluating leaves -----------------------------------------------------------------
    def assign(self, wit: Wit) -> dict[str, Any]:
        out: dict[str, Any] = {}
        columns: dict[str, list[list[dict[str, Any]]]] = {}
        for var, i in zip(self.vars, wit, strict=True):
            if i < 0:
                continue
            for k, v in var.values[i].assign.items():
                if k.endswith("#columns"):
                    columns.setdefault(k[: -len("#columns")], []).append(v)
                else:
                    out[k] = v
        for c in self.collections.values():
            shape = out.get(c.name)
            if isinstance(shape, _Items):
                items = [dict(c.filler) for _ in range(shape.m)]
                for column in columns.get(c.name, []):
                    if len(column) != len(items):  # the list's length was changed on its own
                        raise _Mismatch(f"{c.name}: {len(column)} item values for {len(items)} items")
                    for item, part in zip(items, column, strict=True):
                        item.update(part)
                out[c.name] = items
        return out

    def run(self) -> None:
        for leaf in self.leaves():
            self._run_leaf(leaf)
        for n in self.top:
            self._tally(n)
        self.prepare()

    def _tally(self, node: _Node) -> tuple[int, int, bool]:
        if isinstance(node, _Leaf):
            return node.size, node.searched, node.exhaustive
        size = searched = 0
        exhaustive = True
        for s, branch in enumerate(node.branches):
            parts = [self._tally(n) for n in branch]
            weight = self.vars[node.var].values[s].weight
            size += weight * math.prod(p[0] for p in parts)
            searched += weight * math.prod(p[1] for p in parts)
            exhaustive = exhaustive and all(p[2] for p in parts)
        node.size, node.searched, node.exhaustive = size, searched, exhaustive
        return size, searched, exhaustive

    def _run_leaf(self, leaf: _Leaf) -> None:
        combos: Iterable[tuple[int, ...]]
        if leaf.combos <= self.max_cases:
            combos = itertools.product(*(range(len(self.vars[v].values)) for v in leaf.vars))
        else:
            leaf.exhaustive = False
            combos = self._sample(leaf)
        sa, sb = self.sides
        base = list(self.blank)
        fixed = dict(leaf.context)
        for combo in combos:
            full = list(base)
            for v, i in fixed.items():
                full[v] = i
            own = list(base)
            for v, i in zip(leaf.vars, combo, strict=True):
                full[v] = i
                own[v] = i
            view = CaseView(_make_case(self.on, self.assign(tuple(full))))
            self.evals[0] += 1
            key = (sa.truths(leaf.rules[0], view), sb.truths(leaf.rules[1], view))
            vals = [self.vars[v].values[i] for v, i in zip(leaf.vars, combo, strict=True)]
            size = sum(x.size for x in vals)
            weight = math.prod(x.weight for x in vals)
            wit = tuple(own)
            entry = leaf.summaries.get(key)
            if entry is None:
                leaf.summaries[key] = [weight, size, wit]
            else:
                entry[0] += weight
                if (size, wit) < (entry[1], entry[2]):
                    entry[1], entry[2] = size, wit
            leaf.searched += weight

    def _sample(self, leaf: _Leaf) -> list[tuple[int, ...]]:
        n = [len(self.vars[v].values) for v in leaf.vars]
        seen: dict[tuple[int, ...], None] = {tuple(0 for _ in n): None}
        for k, m in enumerate(n):  # every single fact set, the rest unknown
            for i in range(1, m):
                seen.setdefault(tuple(i if j == k else 0 for j in range(len(n))), None)
        tries = 0
        while len(seen) < self.max_cases and tries < 4 * self.max_cases:
            tries += 1
            seen.setdefault(tuple(self.rng.randrange(m) for m in n), None)
        return list(seen)

    # ---- projections and dynamic programming ----------------------------------------------
    def prepare(self) -> None:
        """Per leaf summary: the outcome ranges it contributes and, per rule, the final outcome
        ranges at which the rule is certain (a bit mask over the pack's ranges)."""
        for leaf in self.leaves():
            prepared = []
            for key, (count, size, wit) in leaf.summaries.items():
                out: list[int] = []
                masks: list[list[int]] = []
                for side, rules, truths in zip(self.sides, leaf.rules, key, strict=True):
                    lo = hi = -1
                    full = (1 << len(side.ranges)) - 1
                    side_masks = []
                    for rule, t in zip(rules, truths, strict=True):
                        if isinstance(t, tuple):
                            side_masks.append(sum(1 << i for i, ti in enumerate(t) if ti is True))
                        else:
                            side_masks.append(full if t is True else 0)
                        if rule.outcome is None or t is False:
                            continue
                        r = side.pack.rank(rule.outcome)
                        hi = max(hi, r)
                        if t is True:
                            lo = max(lo, r)
                    out += [lo, hi]
                    masks.append(side_masks)
                prepared.append((tuple(out), masks, count, size, wit))
            leaf.prepared = prepared

    def _project(self, leaf: _Leaf, effects: tuple[Effect, Effect], depth: int) -> Dist:
        values = [[eff(r) for r in rules] for eff, rules in zip(effects, leaf.rules, strict=True)]
        out: Dist = {}
        for outcome, masks, count, size, wit in leaf.prepared:
            key = list(outcome)
            for side_values, side_masks in zip(values, masks, strict=True):
                for j in range(1, depth + 1):
                    m = 0
                    for v, mask in zip(side_values, side_masks, strict=True):
                        if v >= j:
                            m |= mask
                    key.append(m)
            _merge(out, tuple(key), count, size, wit)
        return out

    def _dist(self, node: _Node, effects: tuple[Effect, Effect], depth: int, identity: tuple[int, ...]) -> Dist:
        if isinstance(node, _Leaf):
            return self._project(node, effects, depth)
        out: Dist = {}
        var = self.vars[node.var]
        for s, branch in enumerate(node.branches):
            wit = list(self.blank)
            wit[node.var] = s
            acc: Dist = {identity: (var.values[s].weight, var.values[s].size, tuple(wit))}
            for sub in branch:
                acc = _combine(acc, self._dist(sub, effects, depth, identity))
            for key, (count, size, w) in acc.items():
                _merge(out, key, count, size, w)
        return out

    def dp(self, effects: tuple[Effect, Effect] | None = None, depth: int = 0) -> Dist:
        """Every reachable (outcome range A, outcome range B, effect masks) with its cases.

        The effect masks say, for each level ``j`` in 1..depth, at which final outcome ranges some
        certain rule gives the effect a value of at least ``j`` (pack A's masks, then B's)."""
        sa, sb = self.sides
        effects = effects or (lambda r: 0, lambda r: 0)
        identity = (-1, -1, -1, -1) + (0,) * (2 * depth)
        acc: Dist = {
            (sa.default, sa.default, sb.default, sb.default) + (0,) * (2 * depth): (
                1,
                0,
                self.blank,
            )
        }
        for node in self.top:
            acc = _combine(acc, self._dist(node, effects, depth, identity))
        return acc

    def values(self, key: tuple[int, ...], depth: int) -> tuple[int, int]:
        """The effect's value under A and under B for a final key of :meth:`dp`."""
        sa, sb = self.sides
        ia = sa.range_index[(key[0], key[1])]
        ib = sb.range_index[(key[2], key[3])]
        va = sum(1 for j in range(depth) if key[4 + j] >> ia & 1)
        vb = sum(1 for j in range(depth) if key[4 + depth + j] >> ib & 1)
        return va, vb

    def case_of(self, wit: Wit) -> Case:
        return _make_case(self.on, self.assign(wit))

    def shrink(self, wit: Wit, keep: Callable[[Case], bool]) -> Wit:
        """Greedily reset facts to unknown or to smaller values while the case stays in its cell."""
        current = list(wit)
        improved = True
        while improved:
            improved = False
            for k, var in enumerate(self.vars):
                now = var.values[current[k]].size
                for i in sorted(range(len(var.values)), key=lambda j: (var.values[j].size, j)):
                    if var.values[i].size >= now:
                        break
                    trial = list(current)
                    trial[k] = i
                    try:
                        case = self.case_of(tuple(trial))
                    except (ValidationError, _Mismatch):  # not a case, or a list and its items disagree
                        continue
                    self.evals[0] += 2
                    if keep(case):
                        current = trial
                        improved = True
                        break
        return tuple(current)


class _Mismatch(ValueError):
    """A witness whose list length and per-item values disagree (met while shrinking a sample)."""


# ============================================================================================
# Witness summaries
# ============================================================================================


def _summary(pack: Pack, d: Decision) -> DecisionSummary:
    def ref(r: Any) -> RuleRef:
        return RuleRef(
            id=r.id,
            title=r.title,
            paragraph=r.citation.paragraph,
            outcome=r.outcome,
            sets=dict(r.sets),
        )

    established = [ref(r) for r in d.rules if r.outcome == d.outcome.id]
    return DecisionSummary(
        pack=pack.ref,
        outcome=d.outcome.id,
        label=d.outcome.label,
        settled=d.settled,
        lowest=d.bounds.lowest.id,
        highest=d.bounds.highest.id,
        by_default=not established,
        established_by=established,
        default_paragraph=d.outcome.citation.paragraph if not established else None,
        rules=[ref(r) for r in [*d.rules, *d.factors]],
        dimensions={
            k: DimensionRef(value=v.value, because=list(v.because), paragraphs=[c.paragraph for c in v.citations])
            for k, v in d.dimensions.items()
        },
        actions=[
            ActionRef(id=x.id, kind=x.kind, text=x.text, paragraph=x.citation.paragraph, because=list(x.because))
            for x in d.actions
        ],
    )


def _case_data(case: Case) -> dict[str, Any]:
    data: dict[str, Any] = case.model_dump(mode="json", exclude_defaults=True)
    return data


# ============================================================================================
# diff_packs
# ============================================================================================


def _pack_info(p: Pack) -> PackInfo:
    return PackInfo(
        ref=p.ref,
        id=p.id,
        board=p.board,
        title=p.title,
        version=p.version,
        sha256=p.sha256,
        path=p.path,
        ladder=p.level_ids,
        dimensions=list(p.dimensions),
    )


def _as_pack(p: Pack | str | Path) -> Pack:
    return p if isinstance(p, Pack) else load_pack(p)


def diff_packs(
    a: Pack | str | Path,
    b: Pack | str | Path,
    *,
    max_cases: int = DEFAULT_MAX_CASES,
    dimensions: Sequence[str] | None = None,
    assessment_date: date | None = None,
    seed: int = 0,
) -> PackDiff:
    """Diff pack ``b`` against pack ``a``: structural changes and the cases decided differently.

    ``a`` and ``b`` are packs, references (``london@2008-03``) or pack files. Outcomes are
    compared by level id when both packs are of one board or share the ladder; the shared outcome
    dimensions (all both packs declare, or ``dimensions``) are always compared; required actions
    are compared when outcomes are. ``max_cases`` bounds the cases enumerated for one group of
    interacting facts; a larger group is sampled and the search reported as not exhaustive.
    """
    started = time.perf_counter()
    pa, pb = _as_pack(a), _as_pack(b)
    if max_cases < 1:
        raise InputError("diff", [Problem("must be at least 1", field="max_cases")])
    shared = [d for d in pa.dimensions if d in pb.dimensions]
    if dimensions is not None:
        bad = [d for d in dimensions if d not in shared]
        if bad:
            raise InputError(
                "diff",
                [
                    Problem(
                        f"dimension {d!r} is not declared by both packs; shared: {', '.join(shared) or 'none'}",
                        field="dimension",
                    )
                    for d in bad
                ],
            )
        shared = [d for d in shared if d in dimensions]
    on = assessment_date or max(pa.in_force.from_, pb.in_force.from_)
    same_ladder = pa.level_ids == pb.level_ids
    compare_outcomes = same_ladder or pa.id == pb.id
    search = _Search(pa, pb, on, max_cases, seed)
    search.run()
    space = math.prod(n.size for n in search.top)
    searched = math.prod(n.searched for n in search.top)
    exhaustive = all(n.exhaustive for n in search.top)

    def cells_of(
        kind: Literal["outcome", "dimension", "action"],
        subject: str,
        states: Dist,
        value: Callable[[tuple[int, ...]], tuple[str, str]],
        check: Callable[[Decision, Decision], tuple[str, str]],
        paragraphs: tuple[str | None, str | None] = (None, None),
    ) -> list[Cell]:
        merged: dict[tuple[str, str], list[Any]] = {}
        for s, (count, size, wit) in states.items():
            va, vb = value(s)
            if va == vb:
                continue
            e = merged.get((va, vb))
            if e is None:
                merged[(va, vb)] = [count, size, wit]
            else:
                e[0] += count
                if (size, wit) < (e[1], e[2]):
                    e[1], e[2] = size, wit
        out = []
        for (va, vb), (count, _, wit) in merged.items():

            def keep(case: Case, cell: tuple[str, str] = (va, vb)) -> bool:
                return check(evaluate(case, pa), evaluate(case, pb)) == cell

            if not exhaustive:
                wit = search.shrink(wit, keep)
            case = search.case_of(wit)
            da, db = evaluate(case, pa), evaluate(case, pb)
            search.evals[0] += 2
            if check(da, db) != (va, vb):  # the decomposition must agree with a full evaluation
                raise RuntimeError(
                    f"diff: witness for {kind} {subject} {va}→{vb} evaluates to {check(da, db)}: "
                    f"{json.dumps(_case_data(case))}"
                )
            out.append(
                Cell(
                    kind=kind,
                    subject=subject,
                    a=va,
                    b=vb,
                    cases=count,
                    share=count / searched if searched else 0.0,
                    witness=Witness(
                        facts_set=facts_set(case),
                        case=_case_data(case),
                        a=_summary(pa, da),
                        b=_summary(pb, db),
                    ),
                    paragraph_a=paragraphs[0],
                    paragraph_b=paragraphs[1],
                )
            )
        return sorted(out, key=_cell_order(pa, pb))

    compared: list[str] = []
    outcome_cells: list[Cell] = []
    if compare_outcomes:
        compared.append("outcome")
        outcome_cells = cells_of(
            "outcome",
            "outcome",
            search.dp(),
            lambda s: (pa.level_ids[s[0]], pb.level_ids[s[2]]),
            lambda da, db: (da.outcome.id, db.outcome.id),
        )

    dim_cells: list[Cell] = []
    for dim in shared:
        compared.append(f"dimension:{dim}")
        values = DIMENSIONS[dim]

        def dim_rank(rule: Rule, _d: str = dim) -> int:
            v = rule.sets.get(_d)
            return DIMENSIONS[_d].index(v) if v is not None else 0

        depth = len(values) - 1
        dim_cells += cells_of(
            "dimension",
            dim,
            search.dp((dim_rank, dim_rank), depth),
            _named(search, depth, values),
            _dimension_of(dim),
        )

    action_cells: list[Cell] = []
    if compare_outcomes:
        compared.append("actions")
        names = ("not required", "required")
        # Actions required by the same rules share one search.
        by_rules: dict[tuple[tuple[str, ...], tuple[str, ...]], Dist] = {}
        for x, y, _ in _match(pa.actions, pb.actions):
            ida = x.id if x is not None else None
            idb = y.id if y is not None else None
            rules_key = (
                tuple(r.id for r in pa.rules if ida is not None and ida in r.actions),
                tuple(r.id for r in pb.rules if idb is not None and idb in r.actions),
            )
            if not rules_key[0] and not rules_key[1]:
                continue
            if rules_key not in by_rules:
                effects = (_required_by(ida), _required_by(idb))
                by_rules[rules_key] = search.dp(effects, 1)
            subject = str(idb) if ida is None else ida if idb in (None, ida) else f"{ida} / {idb}"
            action_cells += cells_of(
                "action",
                subject,
                by_rules[rules_key],
                _named(search, 1, names),
                _requirement_of(ida, idb, names),
                (
                    x.citation.paragraph if x is not None else None,
                    y.citation.paragraph if y is not None else None,
                ),
            )

    notes: list[str] = []
    if not compare_outcomes:
        notes.append(
            "The packs are of different boards with different ladders: outcomes are compared "
            "through the shared dimensions only, and required actions are not compared."
        )
    if not shared:
        notes.append("The packs declare no shared outcome dimension to compare.")
    if not exhaustive:
        notes.append(
            "Not exhaustive: a group of interacting facts was too large to enumerate and was "
            "sampled; witnesses were shrunk. Raise --max-cases to search more."
        )
    info = SearchInfo(
        exhaustive=exhaustive,
        space=space,
        searched=searched,
        evaluations=search.evals[0],
        seconds=round(time.perf_counter() - started, 3),
        max_cases=max_cases,
        assessment_date=on,
        compared=compared,
        groups=[
            GroupInfo(facts=search.facts_of(n), size=n.size, searched=n.searched, exhaustive=n.exhaustive)
            for n in search.top
        ],
        notes=notes,
    )
    return PackDiff(
        a=_pack_info(pa),
        b=_pack_info(pb),
        same_ladder=same_ladder,
        structural=structural_diff(pa, pb),
        outcomes=outcome_cells,
        dimensions=dim_cells,
        actions=action_cells,
        search=info,
    )


def _named(search: _Search, depth: int, names: Sequence[str]) -> Callable[[tuple[int, ...]], tuple[str, str]]:
    def value(key: tuple[int, ...]) -> tuple[str, str]:
        va, vb = search.values(key, depth)
        return names[va], names[vb]

    return value


def _dimension_of(dim: str) -> Callable[[Decision, Decision], tuple[str, str]]:
    def value(da: Decision, db: Decision) -> tuple[str, str]:
        return da.dimensions[dim].value, db.dimensions[dim].value

    return value


def _required_by(action_id: str | None) -> Effect:
    def value(rule: Rule) -> int:
        return int(action_id is not None and action_id in rule.actions)

    return value


def _requirement_of(
    ida: str | None, idb: str | None, names: Sequence[str]
) -> Callable[[Decision, Decision], tuple[str, str]]:
    def value(da: Decision, db: Decision) -> tuple[str, str]:
        return (
            names[any(x.id == ida for x in da.actions)],
            names[any(x.id == idb for x in db.actions)],
        )

    return value


def _cell_order(pa: Pack, pb: Pack) -> Callable[[Cell], tuple[Any, ...]]:
    def rank(pack: Pack, v: str) -> int:
        if v in pack.level_ids:
            return pack.rank(v)
        for values in DIMENSIONS.values():
            if v in values:
                return values.index(v)
        return ("not required", "required").index(v) if v in ("not required", "required") else 0

    return lambda c: (c.subject, -rank(pa, c.a), -rank(pb, c.b))


# ============================================================================================
# Rendering
# ============================================================================================


def _flow(value: Any) -> str:
    """A value as one line of YAML (flow style)."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10_000)
    text = text.strip()
    return text[:-4].rstrip() if text.endswith("\n...") else text


def _case_yaml(case: dict[str, Any]) -> str:
    """A witness as a case file (dates unquoted, only the facts set)."""
    native = Case.model_validate(case).model_dump(exclude_defaults=True)
    return yaml.safe_dump(native, default_flow_style=None, sort_keys=False, allow_unicode=True, width=100).rstrip()


def _n(x: int) -> str:
    return f"{x:,}"


def _pct(share: float) -> str:
    if share == 0:
        return "0%"
    if share < 0.0001:
        return "<0.01%"
    return f"{100 * share:.2f}%"


def _change_line(c: Change) -> str:
    ident = c.id if c.id_b in (None, c.id) else f"{c.id} → {c.id_b}"
    where = f" [{c.paragraph}]" if c.paragraph and c.section != "citation" else ""
    how = f" (matched by {c.matched_by})" if c.matched_by not in (None, "id") else ""
    title = f" — {c.title}" if c.title and c.change != "changed" else ""
    return f"{c.section:<9} {c.change:<8} {ident}{where}{how}{title}"


_CONDITION = TypeAdapter(Condition)


def _shown(field: str, value: Any) -> str:
    """A changed value for a reader: conditions in words, other values as one line of YAML."""
    if value is None:
        return "—"
    if field in ("when", "given"):
        try:
            return describe(_CONDITION.validate_python(value))
        except ValidationError:  # pragma: no cover - values come from valid packs
            pass
    return _flow(value)


def _field_lines(f: FieldChange, indent: str) -> list[str]:
    if f.field == "quotes":
        out = []
        for q in f.a or []:
            if q not in (f.b or []):
                out.append(f"{indent}- {q}")
        for q in f.b or []:
            if q not in (f.a or []):
                out.append(f"{indent}+ {q}")
        return out
    a, b = _shown(f.field, f.a), _shown(f.field, f.b)
    if len(a) + len(b) < 80:
        return [f"{indent}{f.field}: {a} → {b}"]
    return [f"{indent}{f.field}:", f"{indent}  A: {a}", f"{indent}  B: {b}"]


def _because(s: DecisionSummary, cell: Cell) -> str:
    if cell.kind == "outcome":
        if s.by_default:
            return f"{s.outcome} (no rule applies: default, [{s.default_paragraph}])"
        rules = ", ".join(f"{r.id} [{r.paragraph}]" for r in s.established_by)
        return f"{s.outcome} — {s.label}; by {rules}"
    if cell.kind == "dimension":
        d = s.dimensions[cell.subject]
        if not d.because:
            return f"{cell.subject} {d.value} (no rule sets it); outcome {s.outcome}"
        cites = ", ".join(f"{r} [{p}]" for r, p in zip(d.because, d.paragraphs, strict=False))
        return f"{cell.subject} {d.value} by {cites}; outcome {s.outcome}"
    ids = {cell.subject, *cell.subject.split(" / ")}
    hit = [x for x in s.actions if x.id in ids]
    if hit:
        because = ", ".join(hit[0].because)
        return f"required [{hit[0].paragraph}] because {because}; outcome {s.outcome}"
    return f"not required; outcome {s.outcome}"


def _cell_title(c: Cell) -> str:
    if c.kind == "outcome":
        return f"{c.a} → {c.b}"
    if c.kind == "dimension":
        return f"{c.subject}: {c.a} → {c.b}"
    para = c.paragraph_a or c.paragraph_b
    return f"{c.subject} [{para}]: {c.a} → {c.b}"


def render_text(d: PackDiff) -> str:
    s = d.search
    out = [f"dvsafeguard diff  A: {d.a.ref}   B: {d.b.ref}"]
    for tag, p in (("A", d.a), ("B", d.b)):
        out.append(f"  {tag}: {p.board} — {p.title} ({p.path or p.ref}, sha256 {p.sha256[:12]})")
    out.append("")
    out.append(f"STRUCTURE: {len(d.structural.changes)} change(s)")
    for ch in d.structural.changes:
        out.append("  " + _change_line(ch))
        if ch.change == "changed" or ch.section == "citation":
            for f in ch.fields:
                if f.field != "id":
                    out += _field_lines(f, "      ")
    out.append("")
    mode = "exhaustive" if s.exhaustive else "NOT exhaustive (sampled)"
    out.append(
        f"OUTCOMES: {mode}; {_n(s.searched)} cases searched"
        + (f" of {_n(s.space)}" if s.searched != s.space else "")
        + f" ({sum(len(g.facts) for g in s.groups)} facts in {len(s.groups)} independent groups)"
        f"; compared: {', '.join(s.compared) or 'nothing'}"
    )
    out.append("  (a case = one combination of the distinct values of the facts the packs read, not a family)")
    for note in s.notes:
        out.append(f"  note: {note}")
    for title, cells in (
        ("Outcome", d.outcomes),
        ("Dimension", d.dimensions),
        ("Required action", d.actions),
    ):
        if not cells:
            continue
        out.append("")
        out.append(f"{title} differences ({len(cells)}):")
        for c in cells:
            out.append(f"  {_cell_title(c)}   {_n(c.cases)} cases ({_pct(c.share)})")
            out.append(f"    witness ({c.witness.facts_set} fact{'s' * (c.witness.facts_set != 1)} set):")
            out += ["      " + line for line in _case_yaml(c.witness.case).splitlines()]
            out.append(f"    A: {_because(c.witness.a, c)}")
            out.append(f"    B: {_because(c.witness.b, c)}")
    if not d.cells:
        out.append(
            "  No case is decided differently"
            + (" in the searched space." if s.exhaustive else " in the sampled cases.")
        )
    out.append("")
    out.append(f"({_n(s.evaluations)} evaluations{_took(s.seconds)})")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(d: PackDiff) -> str:
    s = d.search
    out = [f"# Pack diff: {d.a.ref} → {d.b.ref}", ""]
    out += ["| | A | B |", "|---|---|---|"]
    for label, f in (
        ("Board", "board"),
        ("Title", "title"),
        ("Version", "version"),
        ("File", "path"),
    ):
        out.append(f"| {label} | {_md(str(getattr(d.a, f)))} | {_md(str(getattr(d.b, f)))} |")
    out.append(f"| sha256 | `{d.a.sha256[:12]}` | `{d.b.sha256[:12]}` |")
    out += ["", "## Summary", ""]
    out.append(f"- Structural changes: {len(d.structural.changes)}")
    out.append(
        f"- Outcome differences: {len(d.outcomes)}; dimension differences: {len(d.dimensions)}; "
        f"required-action differences: {len(d.actions)}"
    )
    mode = "exhaustive" if s.exhaustive else "**not exhaustive** (sampled)"
    out.append(
        f"- Search: {mode}, {_n(s.searched)} cases"
        + (f" of {_n(s.space)}" if s.searched != s.space else "")
        + f", assessment date {s.assessment_date.isoformat()}, compared: {', '.join(s.compared)}"
    )
    out.append(
        "- A case is one combination of the distinct values of the facts the two packs read; shares "
        "compare cells, they do not estimate numbers of families."
    )
    for note in s.notes:
        out.append(f"- {note}")
    out += ["", "## What changed in the text", ""]
    if not d.structural.changes:
        out.append("Nothing.")
    else:
        out += ["| Section | Change | Item | Paragraph | Detail |", "|---|---|---|---|---|"]
        for ch in d.structural.changes:
            ident = ch.id if ch.id_b in (None, ch.id) else f"{ch.id} → {ch.id_b}"
            if ch.change == "changed" or ch.section == "citation":
                detail = "; ".join(
                    f"{f.field}: {_md(_shown(f.field, f.a))} → {_md(_shown(f.field, f.b))}" for f in ch.fields
                )
            else:
                detail = _md(ch.title or "")
            if ch.matched_by not in (None, "id"):
                detail = f"(matched by {ch.matched_by}) {detail}"
            out.append(f"| {ch.section} | {ch.change} | `{ident}` | {_md(ch.paragraph or '')} | {detail} |")
    for title, cells in (
        ("Outcomes", d.outcomes),
        ("Outcome dimensions", d.dimensions),
        ("Required actions", d.actions),
    ):
        out += ["", f"## Families treated differently: {title.lower()}", ""]
        if not cells:
            out.append("No case in the searched space is decided differently.")
            continue
        out += ["| Difference | Cases | Share | Facts in witness |", "|---|---:|---:|---:|"]
        for c in cells:
            out.append(f"| {_md(_cell_title(c))} | {_n(c.cases)} | {_pct(c.share)} | {c.witness.facts_set} |")
        for c in cells:
            out += [
                "",
                f"### {_md(_cell_title(c))}",
                "",
                f"{_n(c.cases)} cases ({_pct(c.share)}). Smallest case:",
                "",
                "```yaml",
                _case_yaml(c.witness.case),
                "```",
                "",
                f"- **A** ({d.a.ref}): {_md(_because(c.witness.a, c))}",
                f"- **B** ({d.b.ref}): {_md(_because(c.witness.b, c))}",
            ]
    out += [
        "",
        "## Search",
        "",
        "| Facts (one group) | Cases | Searched | Exhaustive |",
        "|---|---:|---:|---|",
    ]
    for g in s.groups:
        out.append(
            f"| {_md(', '.join(g.facts) or '(outcome tests only)')} | {_n(g.size)} "
            f"| {_n(g.searched)} | "
            f"{'yes' if g.exhaustive else 'no'} |"
        )
    out += ["", f"{_n(s.evaluations)} evaluations{_took(s.seconds)}.", ""]
    return "\n".join(out)


def _took(seconds: float | None) -> str:
    return "" if seconds is None else f" in {seconds:.2f} s"


def render_json(d: PackDiff) -> str:
    return d.to_json() + "\n"


def render(d: PackDiff, fmt: Format = "text") -> str:
    if fmt == "markdown":
        return render_markdown(d)
    if fmt == "json":
        return render_json(d)
    return render_text(d)


# ============================================================================================
# Command line
# ============================================================================================


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "diff",
        help="what changed between two packs, in the text and in the outcomes",
        description="Structural and outcome diff of two packs (by reference, e.g. "
        "london@2008-03, or by file). Exit status: 0 no difference, 1 differences found, 2 error.",
    )
    p.add_argument("a", help="pack A (the current procedure): reference or file")
    p.add_argument("b", help="pack B (the revision or other board's procedure): reference or file")
    p.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    p.add_argument(
        "--max-cases",
        type=int,
        default=DEFAULT_MAX_CASES,
        metavar="N",
        help="largest group of interacting facts to enumerate in full "
        f"(default {DEFAULT_MAX_CASES:,}); larger groups are sampled and the report says so",
    )
    p.add_argument(
        "--dimension",
        action="append",
        choices=list(DIMENSIONS),
        metavar="D",
        help="compare only this shared outcome dimension (repeatable): " + ", ".join(DIMENSIONS),
    )
    p.add_argument(
        "--assessment-date",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="assessment date of the searched cases (default: the later in-force date)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for sampled searches (default 0)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    d = diff_packs(
        args.a,
        args.b,
        max_cases=args.max_cases,
        dimensions=args.dimension,
        assessment_date=args.assessment_date,
        seed=args.seed,
    )
    text = render(d, args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 1 if d.differs else 0
