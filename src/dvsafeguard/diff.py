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
import heapq
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
from pydantic import BaseModel, ConfigDict, ValidationError

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
    seconds: float
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
        return self.model_dump_json(indent=2)


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
        ("citation", _cite), ("paragraph", lambda i: (_cite(i) or ("", ""))[0] or None)]
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
_META = ("id", "board", "title", "version", "in_force", "source", "default_outcome", "combination",
         "dimensions", "risk_facts")


def _title(item: Any) -> str | None:
    for attr in ("title", "label", "text", "description"):
        v = getattr(item, attr, None)
        if isinstance(v, str):
            return v
    return None


def structural_diff(a: Pack, b: Pack) -> StructuralDiff:
    """Metadata, ladder, rules, actions, notes, invariants and citations added, removed or changed."""
    changes: list[Change] = []
    meta = [FieldChange(field=f, a=_dump(getattr(a, f)), b=_dump(getattr(b, f)))
            for f in _META if _dump(getattr(a, f)) != _dump(getattr(b, f))]
    if meta:
        changes.append(Change(section="metadata", change="changed", id=a.id, id_b=b.id, fields=meta))
    if a.level_ids != b.level_ids and sorted(a.level_ids) == sorted(b.level_ids):
        changes.append(Change(section="ladder", change="changed", id="order",
                              fields=[FieldChange(field="order", a=a.level_ids, b=b.level_ids)]))
    sections: list[tuple[Section, Sequence[Any], Sequence[Any]]] = [
        ("ladder", a.ladder, b.ladder), ("rule", a.rules, b.rules), ("action", a.actions, b.actions),
        ("note", a.notes, b.notes), ("invariant", a.invariants, b.invariants),
    ]
    for section, items_a, items_b in sections:
        for x, y, how in _match(items_a, items_b):
            item = x if x is not None else y
            cite = _cite(item)
            para = cite[0] if cite else None
            if x is None:
                changes.append(Change(section=section, change="added", id=y.id, paragraph=para,
                                      title=_title(y)))
            elif y is None:
                changes.append(Change(section=section, change="removed", id=x.id, paragraph=para,
                                      title=_title(x)))
            else:
                fields = [FieldChange(field=f, a=_dump(getattr(x, f)), b=_dump(getattr(y, f)))
                          for f in _FIELDS[section] if _dump(getattr(x, f)) != _dump(getattr(y, f))]
                if x.id != y.id:
                    fields.insert(0, FieldChange(field="id", a=x.id, b=y.id))
                if fields:
                    changes.append(Change(section=section, change="changed", id=x.id, id_b=y.id,
                                          matched_by=how,
                                          paragraph=para, title=_title(y), fields=fields))
    cited_a, cited_b = _citations(a), _citations(b)
    for para in sorted(set(cited_a) | set(cited_b), key=_paragraph_key):
        qa, qb = cited_a.get(para), cited_b.get(para)
        if qa == qb:
            continue
        kind: Literal["added", "removed", "changed"] = (
            "added" if qa is None else "removed" if qb is None else "changed")
        changes.append(Change(section="citation", change=kind, id=para, paragraph=para,
                              fields=[FieldChange(field="quotes", a=qa, b=qb)]))
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
_ITEM_MODEL: dict[str, type[BaseModel]] = {"children": Child, "incidents": Incident, "matrix": MatrixTick}

Test = tuple[str, Any]  # (operator, bound) with 'in' bounds as tuples


def _test_of(node: FactTest) -> Test:
    op, bound = node.op()
    return (op, tuple(bound) if op == "in" else bound)


@dataclass
class _Count:
    """One count a pack makes over a list (its ``where`` and window), with every test of it."""

    node: CountTest
    tests: list[tuple[str, Any, Any]] = field(default_factory=list)  # ("count", at_least, at_most) | (op, bound, None)


@dataclass
class _Usage:
    scalars: dict[str, list[Test]] = field(default_factory=dict)
    counts: dict[str, _Count] = field(default_factory=dict)
    item_tests: dict[str, dict[str, list[Test]]] = field(default_factory=dict)
    flag_tests: dict[str, list[Test]] = field(default_factory=dict)

    def count(self, node: CountTest, test: tuple[str, Any, Any]) -> None:
        key = node.model_copy(update={"at_least": None, "at_most": None}).model_dump_json(by_alias=True)
        entry = self.counts.setdefault(key, _Count(node.model_copy(update={"at_least": None, "at_most": None})))
        if test not in entry.tests:
            entry.tests.append(test)
        if node.where is not None:
            tests = self.item_tests.setdefault(node.count, {})
            for sub in walk(node.where):
                if isinstance(sub, FactTest):
                    tests.setdefault(sub.fact, []).append(_test_of(sub))


def _scan(cond: Condition, usage: _Usage, variables: dict[str, None]) -> None:
    """Record the facts a condition reads (derived facts expanded to what they read)."""
    if isinstance(cond, AllOf | AnyOf):
        for c in cond.all if isinstance(cond, AllOf) else cond.any:
            _scan(c, usage, variables)
    elif isinstance(cond, NotOf):
        _scan(cond.not_, usage, variables)
    elif isinstance(cond, FactTest):
        if cond.fact in DERIVED:
            d = DERIVED[cond.fact]
            if d.kind == "count":
                assert isinstance(d.definition, CountTest)
                op, bound = _test_of(cond)
                usage.count(d.definition, (op, bound, None))
                variables.setdefault(d.definition.count, None)
            else:
                _scan(d.definition, usage, variables)
        elif cond.fact in _COLLECTION_OF_FLAG:
            col = _COLLECTION_OF_FLAG[cond.fact]
            usage.flag_tests.setdefault(col, []).append(_test_of(cond))
            variables.setdefault(col, None)
        else:
            usage.scalars.setdefault(cond.fact, []).append(_test_of(cond))
            variables.setdefault(cond.fact, None)
    elif isinstance(cond, CountTest):
        usage.count(cond, ("count", cond.at_least, cond.at_most))
        variables.setdefault(cond.count, None)


@dataclass
class _Val:
    """One value of a variable: the facts it sets (dotted path → value) and how many."""

    assign: dict[str, Any]
    size: int
    label: str


@dataclass
class _Var:
    name: str
    values: list[_Val]


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


def _choices(kind: str, values: tuple[Any, ...], tests: list[Test], bounds: tuple[float | None, float | None]
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
    values += [_Val({path: v}, 1, _label(v))
               for v in _choices(info.kind, info.values, tests, _bounds_of(model, name))]
    return _Var(path, values)


def _item_size(item: dict[str, Any]) -> int:
    return max(1, sum(1 for v in item.values() if v is not None))


def _list_size(items: list[dict[str, Any]]) -> int:
    return 1 if not items else sum(_item_size(i) for i in items)


def facts_set(case: Case) -> int:
    """How many facts a case sets: each known value counts one; a list given as empty counts one,
    a non-empty list counts each item's known fields (at least one per item)."""
    def count(v: Any) -> int:
        if isinstance(v, dict):
            return sum(count(x) for x in v.values())
        if isinstance(v, list):
            return 1 if not v else sum(max(1, count(i)) for i in v)
        return 0 if v is None else 1
    data = case.model_dump(exclude_defaults=True)
    data.pop("assessment_date", None)
    data.pop("case_id", None)
    return count(data)


def _item_options(col: str, tests: dict[str, list[Test]], windows: list[int], on: date) -> list[dict[str, Any]]:
    """Candidate items of a list: the fields its counts test, each unknown or at each behaviour."""
    infos = item_facts(col)
    model = _ITEM_MODEL[col]
    axes: list[list[dict[str, Any]]] = []
    if col == "children" and ("age_months" in tests or "unborn" in tests):
        ages: list[dict[str, Any]] = [{}, {"unborn": True}]
        if "unborn" in tests:
            ages.append({"unborn": False})
        age_tests = tests.get("age_months", [])
        ages += [{"age_months": m} for m in _numbers(age_tests, 0, 215)]
        years: list[int] = []
        for op, bound in age_tests:
            for y in range(18):
                if y not in years and compare(op, (12.0 * y, 12.0 * y + 11), bound) is None:
                    years.append(y)
                    break
        ages += [{"age_years": y} for y in sorted(years)]
        axes.append(ages)
    if col == "incidents" and windows:
        dates: list[dict[str, Any]] = [{}]
        for w in sorted(set(windows)):
            edge = months_before(on, w)
            dates += [{"date": edge}, {"date": edge - timedelta(days=1)}]
        axes.append(dates)
    skip = {"age_months", "unborn"} if col == "children" else set()
    for name, info in infos.items():
        if name in skip or info.kind in ("text", "date"):
            continue
        required = model.model_fields[name].is_required() if name in model.model_fields else False
        t = tests.get(name, [])
        bounds = _bounds_of(model, name) if name in model.model_fields else (None, None)
        if not t:
            if required:
                axes.append([{name: _choices(info.kind, info.values, [], bounds)[0]}])
            continue
        opts = [{name: v} for v in _choices(info.kind, info.values, t, bounds)]
        axes.append(opts if required else [{}, *opts])
    out = []
    for combo in itertools.product(*axes):
        item: dict[str, Any] = {}
        for part in combo:
            item.update(part)
        out.append(item)
    return out


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


def _count_tests_truth(view: CaseView, counts: list[tuple[_Count, Any]]) -> tuple[Truth, ...]:
    out: list[Truth] = []
    for entry, fn in counts:
        lo, hi = count_range(view, entry.node, fn)
        for kind, x, y in entry.tests:
            if kind == "count":
                out.append(count_truth(lo, hi, x, y))
            else:
                out.append(compare(kind, (float(lo), None if hi is None else float(hi)), x))
    return tuple(out)


def _collection_var(col: str, usage: _Usage, on: date, comp: CompiledPack, evals: list[int]) -> _Var:
    """Lists reaching every combination of the packs' counts over ``col``, smallest first."""
    counts = [(c, comp.compiler.item(c.node.where) if c.node.where is not None else None)
              for c in usage.counts.values() if c.node.count == col]
    windows = [c.node.within_months for c, _ in counts if c.node.within_months]
    flag = _FLAG_OF.get(col)
    options = _item_options(col, usage.item_tests.get(col, {}), windows, on)

    # Each candidate item's truth under every count (True / unknown / False); keep the smallest
    # item per signature.
    reps: dict[tuple[Truth, ...], tuple[int, int, dict[str, Any]]] = {}
    for n, item in enumerate(options):
        assign: dict[str, Any] = {col: [item]}
        if flag:
            assign[flag] = True
        try:
            view = CaseView(_make_case(on, assign))
        except ValidationError:
            continue
        evals[0] += 1
        sig: list[Truth] = []
        for entry, fn in counts:
            lo, hi = count_range(view, entry.node, fn)
            sig.append(True if lo >= 1 else (None if hi is not None and hi >= 1 else False))
        key = tuple(sig)
        cand = (_item_size(item), n, item)
        if key not in reps or cand[:2] < reps[key][:2]:
            reps[key] = cand
    items = sorted(reps.items(), key=lambda kv: kv[1][:2])

    # Smallest lists reaching each (capped) count state: Dijkstra over states.
    caps = []
    for entry, _ in counts:
        cap = 1
        for kind, x, y in entry.tests:
            if kind == "count":
                cap = max(cap, x or 0, (y + 1) if y is not None else 0)
            elif kind == "in":
                cap = max(cap, *(math.floor(v) + 1 for v in x))
            else:
                cap = max(cap, math.floor(x) + 1)
        caps.append(cap)
    start = tuple((0, 0) for _ in counts)
    best: dict[tuple[tuple[int, int], ...], tuple[int, tuple[int, ...]]] = {start: (1, ())}
    heap: list[tuple[int, tuple[int, ...], tuple[tuple[int, int], ...]]] = [(1, (), start)]
    while heap:
        size, lst, state = heapq.heappop(heap)
        if best.get(state) != (size, lst):
            continue
        for j, (sig_key, (isize, _, _)) in enumerate(items):
            new = tuple(
                (min(lo + (t is True), cap), min(pos + (t is not False), cap))
                for (lo, pos), t, cap in zip(state, sig_key, caps, strict=True)
            )
            nsize = isize if not lst else size + isize
            nl = (*lst, j)
            if new not in best or (nsize, nl) < best[new]:
                best[new] = (nsize, nl)
                heapq.heappush(heap, (nsize, nl, new))

    # Candidate configurations: unknown list, then each list with the completeness flag.
    flag_tested = col in usage.flag_tests
    configs: list[_Val] = [_Val({col: None}, 0, "unknown")]
    if flag and flag_tested:
        configs += [_Val({col: None, flag: v}, 1, f"unknown, {flag}={_label(v)}") for v in (True, False)]
    for size, lst in sorted(best.values()):
        lst_items = [dict(items[j][1][2]) for j in lst]
        if not flag:
            configs.append(_Val({col: lst_items}, size, f"{len(lst_items)} items"))
            continue
        flags: list[bool | None] = [None, True, False]
        if col == "children" and not lst_items:  # no children: the list is complete by definition
            flags = [None, True] if flag_tested else [None]
        for fv in flags:
            configs.append(_Val({col: lst_items, flag: fv}, size + (fv is not None),
                                f"{len(lst_items)} items" + ("" if fv is None else f", {flag}={_label(fv)}")))

    # Keep the smallest configuration per combination of test results.
    kept: dict[tuple[Any, ...], _Val] = {}
    for _, v in sorted(enumerate(configs), key=lambda iv: (iv[1].size, iv[0])):
        try:
            view = CaseView(_make_case(on, v.assign))
        except ValidationError:
            continue
        evals[0] += 1
        key: tuple[Any, ...] = _count_tests_truth(view, counts)
        if flag_tested and flag:
            key += (v.assign.get(flag),)
        kept.setdefault(key, v)
    return _Var(col, list(kept.values()))


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
    fns: dict[str, Callable[[CaseView], Truth]]
    classes: dict[str, tuple[list[tuple[int, int]], list[int]]]  # rule → (representative ranges, class of each range)

    @classmethod
    def of(cls, pack: Pack, on: date) -> _Side:
        comp = compiled(pack)
        d = pack.rank(pack.default_outcome)
        n = len(pack.ladder)
        ranges = [(lo, hi) for lo in range(d, n) for hi in range(lo, n)]
        fns = dict(comp.outcome_fns + comp.other_fns)
        classes: dict[str, tuple[list[tuple[int, int]], list[int]]] = {}
        probe = CaseView(Case(assessment_date=on))
        for rule in pack.rules:
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
        return cls(pack, comp, d, ranges, {r: i for i, r in enumerate(ranges)}, fns, classes)

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


@dataclass
class _Group:
    vars: list[_Var]
    rules: tuple[list[Rule], list[Rule]]
    size: int
    searched: int = 0
    exhaustive: bool = True
    # truth key (A rules, B rules) → [cases, fewest facts, value indices of that case]
    summaries: dict[tuple[Any, Any], list[Any]] = field(default_factory=dict)


Combo = tuple[int, ...]


class _Search:
    def __init__(self, a: Pack, b: Pack, on: date, max_cases: int, seed: int) -> None:
        self.on = on
        self.sides = (_Side.of(a, on), _Side.of(b, on))
        self.max_cases = max_cases
        self.rng = random.Random(f"{a.sha256}:{b.sha256}:{seed}")
        self.evals = [0]
        usage = _Usage()
        rule_vars: list[tuple[int, Rule, list[str]]] = []
        for i, pack in enumerate((a, b)):
            for rule in pack.rules:
                names: dict[str, None] = {}
                _scan(rule.when, usage, names)
                rule_vars.append((i, rule, list(names)))
        variables: dict[str, _Var] = {}
        for name in dict.fromkeys(n for _, _, ns in rule_vars for n in ns):
            if name in _ITEM_MODEL:
                variables[name] = _collection_var(name, usage, on, self.sides[0].comp, self.evals)
            else:
                variables[name] = _scalar_var(name, usage.scalars[name])
        # union-find: facts read by one rule belong together
        parent = {n: n for n in variables}

        def find(n: str) -> str:
            while parent[n] != n:
                parent[n] = parent[parent[n]]
                n = parent[n]
            return n

        for _, _, ns in rule_vars:
            for n in ns[1:]:
                parent[find(n)] = find(ns[0])
        roots = list(dict.fromkeys(find(n) for n in variables))
        groups: dict[str, _Group] = {}
        for root in roots:
            vs = [variables[n] for n in variables if find(n) == root]
            groups[root] = _Group(vs, ([], []), math.prod(len(v.values) for v in vs))
        free = _Group([], ([], []), 1)  # rules reading no fact (outcome tests only)
        for i, rule, ns in rule_vars:
            g = groups[find(ns[0])] if ns else free
            g.rules[i].append(rule)
        self.groups = list(groups.values()) + ([free] if free.rules[0] or free.rules[1] else [])

    # ---- evaluating groups -------------------------------------------------------------------
    def assign(self, group: _Group, combo: Combo) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for var, i in zip(group.vars, combo, strict=True):
            out.update(var.values[i].assign)
        return out

    def run_group(self, group: _Group) -> None:
        combos: Iterable[Combo]
        if group.size <= self.max_cases:
            combos = itertools.product(*(range(len(v.values)) for v in group.vars))
        else:
            group.exhaustive = False
            combos = self._sample(group)
        sa, sb = self.sides
        for combo in combos:
            view = CaseView(_make_case(self.on, self.assign(group, combo)))
            self.evals[0] += 1
            key = (sa.truths(group.rules[0], view), sb.truths(group.rules[1], view))
            size = sum(v.values[i].size for v, i in zip(group.vars, combo, strict=True))
            entry = group.summaries.get(key)
            if entry is None:
                group.summaries[key] = [1, size, combo]
            else:
                entry[0] += 1
                if (size, combo) < (entry[1], entry[2]):
                    entry[1], entry[2] = size, combo
            group.searched += 1

    def _sample(self, group: _Group) -> list[Combo]:
        n = [len(v.values) for v in group.vars]
        seen: dict[Combo, None] = {tuple(0 for _ in n): None}
        for k, m in enumerate(n):  # every single fact set, the rest unknown
            for i in range(1, m):
                seen.setdefault(tuple(i if j == k else 0 for j in range(len(n))), None)
        tries = 0
        while len(seen) < self.max_cases and tries < 4 * self.max_cases:
            tries += 1
            seen.setdefault(tuple(self.rng.randrange(m) for m in n), None)
        return list(seen)

    # ---- projections and dynamic programming ----------------------------------------------
    def project(self, group: _Group, fn: Callable[[tuple[Any, Any]], tuple[int, ...]]
                ) -> list[tuple[tuple[int, ...], int, int, Combo]]:
        merged: dict[tuple[int, ...], list[Any]] = {}
        for key, (count, size, combo) in group.summaries.items():
            p = fn(key)
            e = merged.get(p)
            if e is None:
                merged[p] = [count, size, combo]
            else:
                e[0] += count
                if (size, combo) < (e[1], e[2]):
                    e[1], e[2] = size, combo
        return [(p, c, s, w) for p, (c, s, w) in merged.items()]

    def outcome_part(self, group: _Group, key: tuple[Any, Any]) -> tuple[int, ...]:
        out: list[int] = []
        for side, rules, truths in zip(self.sides, group.rules, key, strict=True):
            lo = hi = -1
            for rule, t in zip(rules, truths, strict=True):
                if rule.outcome is None or t is False:
                    continue
                r = side.pack.rank(rule.outcome)
                hi = max(hi, r)
                if t is True:
                    lo = max(lo, r)
            out += [lo, hi]
        return tuple(out)

    def effect_part(self, group: _Group, key: tuple[Any, Any],
                    value: tuple[Callable[[Rule], int], Callable[[Rule], int]]) -> tuple[int, ...]:
        """For each pack and each final outcome range: the highest value of the effect among the
        group's rules certain at that range (0 when none)."""
        out: list[int] = []
        for side, rules, truths, val in zip(self.sides, group.rules, key, value, strict=True):
            per = [0] * len(side.ranges)
            for rule, t in zip(rules, truths, strict=True):
                v = val(rule)
                if v <= 0:
                    continue
                for i in range(len(per)):
                    ti = t[i] if isinstance(t, tuple) else t
                    if ti is True and v > per[i]:
                        per[i] = v
            out += per
        return tuple(out)

    def dp(self, fn: Callable[[_Group, tuple[Any, Any]], tuple[int, ...]], width: int
           ) -> dict[tuple[int, ...], tuple[int, int, tuple[Combo, ...]]]:
        sa, sb = self.sides
        init = (sa.default, sa.default, sb.default, sb.default) + (0,) * width
        states: dict[tuple[int, ...], tuple[int, int, tuple[Combo, ...]]] = {init: (1, 0, ())}
        for group in self.groups:
            entries = self.project(group, lambda k, g=group: fn(g, k))
            new: dict[tuple[int, ...], tuple[int, int, tuple[Combo, ...]]] = {}
            for s, (count, size, wit) in states.items():
                for key, c2, s2, combo in entries:
                    ns = tuple(map(max, s, key))
                    cand = (count * c2, size + s2, (*wit, combo))
                    cur = new.get(ns)
                    if cur is None:
                        new[ns] = cand
                    elif (cand[1], cand[2]) < (cur[1], cur[2]):
                        new[ns] = (cur[0] + cand[0], cand[1], cand[2])
                    else:
                        new[ns] = (cur[0] + cand[0], cur[1], cur[2])
            states = new
        return states

    def case_of(self, wit: tuple[Combo, ...]) -> Case:
        assign: dict[str, Any] = {}
        for group, combo in zip(self.groups, wit, strict=True):
            assign.update(self.assign(group, combo))
        return _make_case(self.on, assign)

    def shrink(self, wit: tuple[Combo, ...], keep: Callable[[Case], bool]) -> tuple[Combo, ...]:
        """Greedily reset facts to unknown or to smaller values while the case stays in its cell."""
        current = [list(c) for c in wit]
        improved = True
        while improved:
            improved = False
            for g, group in enumerate(self.groups):
                for k, var in enumerate(group.vars):
                    now = var.values[current[g][k]].size
                    for i in sorted(range(len(var.values)), key=lambda j: (var.values[j].size, j)):
                        if var.values[i].size >= now:
                            break
                        trial = [list(c) for c in current]
                        trial[g][k] = i
                        try:
                            case = self.case_of(tuple(tuple(c) for c in trial))
                        except ValidationError:
                            continue
                        self.evals[0] += 2
                        if keep(case):
                            current = trial
                            improved = True
                            break
        return tuple(tuple(c) for c in current)


# ============================================================================================
# Witness summaries
# ============================================================================================


def _summary(pack: Pack, d: Decision) -> DecisionSummary:
    def ref(r: Any) -> RuleRef:
        return RuleRef(id=r.id, title=r.title, paragraph=r.citation.paragraph, outcome=r.outcome,
                       sets=dict(r.sets))

    established = [ref(r) for r in d.rules if r.outcome == d.outcome.id]
    return DecisionSummary(
        pack=pack.ref, outcome=d.outcome.id, label=d.outcome.label, settled=d.settled,
        lowest=d.bounds.lowest.id, highest=d.bounds.highest.id, by_default=not established,
        established_by=established,
        default_paragraph=d.outcome.citation.paragraph if not established else None,
        rules=[ref(r) for r in [*d.rules, *d.factors]],
        dimensions={k: DimensionRef(value=v.value, because=v.because,
                                    paragraphs=[c.paragraph for c in v.citations])
                    for k, v in d.dimensions.items()},
        actions=[ActionRef(id=x.id, kind=x.kind, text=x.text, paragraph=x.citation.paragraph,
                           because=x.because) for x in d.actions],
    )


def _case_data(case: Case) -> dict[str, Any]:
    data: dict[str, Any] = case.model_dump(mode="json", exclude_defaults=True)
    return data


# ============================================================================================
# diff_packs
# ============================================================================================


def _pack_info(p: Pack) -> PackInfo:
    return PackInfo(ref=p.ref, id=p.id, board=p.board, title=p.title, version=p.version, sha256=p.sha256,
                    path=p.path, ladder=p.level_ids, dimensions=list(p.dimensions))


def _as_pack(p: Pack | str | Path) -> Pack:
    return p if isinstance(p, Pack) else load_pack(p)


def diff_packs(a: Pack | str | Path, b: Pack | str | Path, *, max_cases: int = DEFAULT_MAX_CASES,
               dimensions: Sequence[str] | None = None, assessment_date: date | None = None,
               seed: int = 0) -> PackDiff:
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
            raise InputError("diff", [Problem(
                f"dimension {d!r} is not declared by both packs; shared: {', '.join(shared) or 'none'}",
                field="dimension") for d in bad])
        shared = [d for d in shared if d in dimensions]
    on = assessment_date or max(pa.in_force.from_, pb.in_force.from_)
    same_ladder = pa.level_ids == pb.level_ids
    compare_outcomes = same_ladder or pa.id == pb.id
    search = _Search(pa, pb, on, max_cases, seed)
    for group in search.groups:
        search.run_group(group)
    space = math.prod(g.size for g in search.groups)
    searched = math.prod(g.searched for g in search.groups)
    exhaustive = all(g.exhaustive for g in search.groups)
    sa, sb = search.sides
    nA, nB = len(sa.ranges), len(sb.ranges)

    def cells_of(kind: Literal["outcome", "dimension", "action"], subject: str,
                 states: dict[tuple[int, ...], tuple[int, int, tuple[Combo, ...]]],
                 value: Callable[[tuple[int, ...]], tuple[str, str]],
                 check: Callable[[Decision, Decision], tuple[str, str]],
                 paragraphs: tuple[str | None, str | None] = (None, None)) -> list[Cell]:
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
                    f"{json.dumps(_case_data(case))}")
            out.append(Cell(kind=kind, subject=subject, a=va, b=vb, cases=count,
                            share=count / searched if searched else 0.0,
                            witness=Witness(facts_set=facts_set(case), case=_case_data(case),
                                            a=_summary(pa, da), b=_summary(pb, db)),
                            paragraph_a=paragraphs[0], paragraph_b=paragraphs[1]))
        return sorted(out, key=_cell_order(pa, pb))

    compared: list[str] = []
    outcome_cells: list[Cell] = []
    if compare_outcomes:
        compared.append("outcome")
        states = search.dp(search.outcome_part, 0)
        outcome_cells = cells_of(
            "outcome", "outcome", states,
            lambda s: (pa.level_ids[s[0]], pb.level_ids[s[2]]),
            lambda da, db: (da.outcome.id, db.outcome.id))

    def fn_value(s: tuple[int, ...]) -> tuple[int, int]:
        ia = sa.range_index[(s[0], s[1])]
        ib = sb.range_index[(s[2], s[3])]
        return s[4 + ia], s[4 + nA + ib]

    dim_cells: list[Cell] = []
    for dim in shared:
        compared.append(f"dimension:{dim}")
        values = DIMENSIONS[dim]

        def dim_rank(rule: Rule, _d: str = dim) -> int:
            v = rule.sets.get(_d)
            return DIMENSIONS[_d].index(v) if v is not None else 0

        def part(g: _Group, k: tuple[Any, Any], _r: Callable[[Rule], int] = dim_rank) -> tuple[int, ...]:
            return search.outcome_part(g, k) + search.effect_part(g, k, (_r, _r))

        states = search.dp(part, nA + nB)
        dim_cells += cells_of(
            "dimension", dim, states,
            lambda s, _v=values: (_v[fn_value(s)[0]], _v[fn_value(s)[1]]),
            lambda da, db, _d=dim: (da.dimensions[_d].value, db.dimensions[_d].value))

    action_cells: list[Cell] = []
    if compare_outcomes:
        compared.append("actions")
        for x, y, _ in _match(pa.actions, pb.actions):
            ida = x.id if x is not None else None
            idb = y.id if y is not None else None
            subject = ida if ida is not None and (idb is None or ida == idb) else f"{ida} / {idb}"
            if ida is None:
                subject = str(idb)

            def req_a(rule: Rule, _x: str | None = ida) -> int:
                return int(_x is not None and _x in rule.actions)

            def req_b(rule: Rule, _x: str | None = idb) -> int:
                return int(_x is not None and _x in rule.actions)

            if not any(req_a(r) for r in pa.rules) and not any(req_b(r) for r in pb.rules):
                continue

            def apart(g: _Group, k: tuple[Any, Any], _f: tuple[Callable[[Rule], int], Callable[[Rule], int]]
                      = (req_a, req_b)) -> tuple[int, ...]:
                return search.outcome_part(g, k) + search.effect_part(g, k, _f)

            states = search.dp(apart, nA + nB)
            names = ("not required", "required")
            action_cells += cells_of(
                "action", subject, states,
                lambda s: (names[fn_value(s)[0]], names[fn_value(s)[1]]),
                lambda da, db, _a=ida, _b=idb: (
                    names[any(r.id == _a for r in da.actions)], names[any(r.id == _b for r in db.actions)]),
                (x.citation.paragraph if x is not None else None, y.citation.paragraph if y is not None else None))

    notes: list[str] = []
    if not compare_outcomes:
        notes.append("The packs are of different boards with different ladders: outcomes are compared "
                     "through the shared dimensions only, and required actions are not compared.")
    if not shared:
        notes.append("The packs declare no shared outcome dimension to compare.")
    if not exhaustive:
        notes.append("Not exhaustive: a group of interacting facts was too large to enumerate and was "
                     "sampled; witnesses were shrunk. Raise --max-cases to search more.")
    info = SearchInfo(
        exhaustive=exhaustive, space=space, searched=searched, evaluations=search.evals[0],
        seconds=round(time.perf_counter() - started, 3), max_cases=max_cases, assessment_date=on,
        compared=compared,
        groups=[GroupInfo(facts=[v.name for v in g.vars], size=g.size, searched=g.searched,
                          exhaustive=g.exhaustive) for g in search.groups],
        notes=notes,
    )
    return PackDiff(a=_pack_info(pa), b=_pack_info(pb), same_ladder=same_ladder,
                    structural=structural_diff(pa, pb), outcomes=outcome_cells, dimensions=dim_cells,
                    actions=action_cells, search=info)


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
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, allow_unicode=True,
                          width=10_000).strip()


def _case_yaml(case: dict[str, Any]) -> str:
    return yaml.safe_dump(case, default_flow_style=None, sort_keys=False, allow_unicode=True,
                          width=100).rstrip()


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
    a = "—" if f.a is None else _flow(f.a)
    b = "—" if f.b is None else _flow(f.b)
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
        return f"required [{hit[0].paragraph}] because {', '.join(hit[0].because)}; outcome {s.outcome}"
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
    for c in d.structural.changes:
        out.append("  " + _change_line(c))
        if c.change == "changed" or c.section == "citation":
            for f in c.fields:
                if f.field != "id":
                    out += _field_lines(f, "      ")
    out.append("")
    mode = "exhaustive" if s.exhaustive else "NOT exhaustive (sampled)"
    out.append(f"OUTCOMES: {mode}; {_n(s.searched)} cases searched"
               + (f" of {_n(s.space)}" if s.searched != s.space else "")
               + f" ({sum(len(g.facts) for g in s.groups)} facts in {len(s.groups)} independent groups)"
               f"; compared: {', '.join(s.compared) or 'nothing'}")
    for note in s.notes:
        out.append(f"  note: {note}")
    for title, cells in (("Outcome", d.outcomes), ("Dimension", d.dimensions), ("Required action", d.actions)):
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
        out.append("  No case is decided differently" + (" in the searched space." if s.exhaustive else
                                                         " in the sampled cases."))
    out.append("")
    out.append(f"({_n(s.evaluations)} evaluations in {s.seconds:.2f} s)")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(d: PackDiff) -> str:
    s = d.search
    out = [f"# Pack diff: {d.a.ref} → {d.b.ref}", ""]
    out += ["| | A | B |", "|---|---|---|"]
    for label, f in (("Board", "board"), ("Title", "title"), ("Version", "version"), ("File", "path")):
        out.append(f"| {label} | {_md(str(getattr(d.a, f)))} | {_md(str(getattr(d.b, f)))} |")
    out.append(f"| sha256 | `{d.a.sha256[:12]}` | `{d.b.sha256[:12]}` |")
    out += ["", "## Summary", ""]
    out.append(f"- Structural changes: {len(d.structural.changes)}")
    out.append(f"- Outcome differences: {len(d.outcomes)}; dimension differences: {len(d.dimensions)}; "
               f"required-action differences: {len(d.actions)}")
    mode = "exhaustive" if s.exhaustive else "**not exhaustive** (sampled)"
    out.append(f"- Search: {mode}, {_n(s.searched)} cases"
               + (f" of {_n(s.space)}" if s.searched != s.space else "")
               + f", assessment date {s.assessment_date.isoformat()}, compared: {', '.join(s.compared)}")
    for note in s.notes:
        out.append(f"- {note}")
    out += ["", "## What changed in the text", ""]
    if not d.structural.changes:
        out.append("Nothing.")
    else:
        out += ["| Section | Change | Item | Paragraph | Detail |", "|---|---|---|---|---|"]
        for c in d.structural.changes:
            ident = c.id if c.id_b in (None, c.id) else f"{c.id} → {c.id_b}"
            if c.change == "changed" or c.section == "citation":
                detail = "; ".join(
                    f"{f.field}: {_md(_flow(f.a) if f.a is not None else '—')} → "
                    f"{_md(_flow(f.b) if f.b is not None else '—')}" for f in c.fields)
            else:
                detail = _md(c.title or "")
            if c.matched_by not in (None, "id"):
                detail = f"(matched by {c.matched_by}) {detail}"
            out.append(f"| {c.section} | {c.change} | `{ident}` | {_md(c.paragraph or '')} | {detail} |")
    for title, cells in (("Outcomes", d.outcomes), ("Outcome dimensions", d.dimensions),
                         ("Required actions", d.actions)):
        out += ["", f"## Families treated differently: {title.lower()}", ""]
        if not cells:
            out.append("No case in the searched space is decided differently.")
            continue
        out += ["| Difference | Cases | Share | Facts in witness |", "|---|---:|---:|---:|"]
        for c in cells:
            out.append(f"| {_md(_cell_title(c))} | {_n(c.cases)} | {_pct(c.share)} | {c.witness.facts_set} |")
        for c in cells:
            out += ["", f"### {_md(_cell_title(c))}", "",
                    f"{_n(c.cases)} cases ({_pct(c.share)}). Smallest case:", "", "```yaml",
                    _case_yaml(c.witness.case), "```", "",
                    f"- **A** ({d.a.ref}): {_md(_because(c.witness.a, c))}",
                    f"- **B** ({d.b.ref}): {_md(_because(c.witness.b, c))}"]
    out += ["", "## Search", "", "| Facts (one group) | Cases | Searched | Exhaustive |", "|---|---:|---:|---|"]
    for g in s.groups:
        out.append(f"| {_md(', '.join(g.facts) or '(outcome tests only)')} | {_n(g.size)} | {_n(g.searched)} | "
                   f"{'yes' if g.exhaustive else 'no'} |")
    out += ["", f"{_n(s.evaluations)} evaluations in {s.seconds:.2f} s.", ""]
    return "\n".join(out)


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
        description="Structural and outcome diff of two packs (by reference, e.g. london@2008-03, or by "
                    "file). Exit status: 0 no difference, 1 differences found, 2 error.",
    )
    p.add_argument("a", help="pack A (the current procedure): reference or file")
    p.add_argument("b", help="pack B (the revision or other board's procedure): reference or file")
    p.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    p.add_argument("--max-cases", type=int, default=DEFAULT_MAX_CASES, metavar="N",
                   help=f"largest group of interacting facts to enumerate in full (default {DEFAULT_MAX_CASES:,}); "
                        "larger groups are sampled and the report says so")
    p.add_argument("--dimension", action="append", choices=list(DIMENSIONS), metavar="D",
                   help="compare only this shared outcome dimension (repeatable): "
                        + ", ".join(DIMENSIONS))
    p.add_argument("--assessment-date", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="assessment date of the searched cases (default: the later in-force date)")
    p.add_argument("--seed", type=int, default=0, help="seed for sampled searches (default 0)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    d = diff_packs(args.a, args.b, max_cases=args.max_cases, dimensions=args.dimension,
                   assessment_date=args.assessment_date, seed=args.seed)
    text = render(d, args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 1 if d.differs else 0
