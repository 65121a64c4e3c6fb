"""Matching a pack's rules against a case — compiled once per pack, two interchangeable engines.

* ``CompiledPack.match`` — the pack's conditions compiled once into Python closures over the case
  (no ``eval``): the fast path for stateless and batch evaluation.
* ``DurablePack.match`` — the same conditions compiled once into durable-rules rulesets: used by
  assessment sessions (facts arriving one at a time) and selectable with ``engine="durable"``.
  Property tests prove that both give identical matches.

Both answer the same question in three-valued logic: for each rule, is it certainly true
(``True``), certainly false (``False``) or undecided because facts are unknown (``None``)? The
decision module turns that into an outcome with bounds.

durable-rules cannot test lists (it refuses ``$iany`` with error 202), so lists are counted here
and handed to it as numbers; an unknown is encoded as the interval ``[low, high]`` of what it
could be, so that "certainly true" and "possibly true" are each one plain comparison. Every pack
rule becomes two durable rules, ``<id>#T`` (certainly true) and ``<id>#P`` (possibly true).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import operator
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .conditions import (
    AllOf,
    AnyOf,
    Condition,
    CountTest,
    FactTest,
    Interval,
    NotOf,
    OutcomeTest,
    Truth,
    Value,
    compare,
    count_truth,
    interval_compare,
    kleene_all,
    months_before,
)
from .derive import DERIVED, CaseView
from .errors import EngineError
from .pack import Pack, Rule

TopFn = Callable[[CaseView], Truth]
ItemFn = Callable[[dict[str, Value]], Truth]
OutcomeRange = tuple[int, int]


@dataclass(frozen=True)
class Match:
    """Which rules hold for one case: rule id → True / None (unknown); false rules are absent.

    ``truths`` (compiled engine only): the truth of every rule of the pack, in pack order.
    """

    outcome_rules: dict[str, Truth]
    action_rules: dict[str, Truth]
    outcome_range: OutcomeRange
    truths: list[Truth] | None = field(default=None, compare=False, repr=False)


# --------------------------------------------------------------------------------------------
# Reading values from a case view
# --------------------------------------------------------------------------------------------


def count_range(view: CaseView, node: CountTest, where: ItemFn | None) -> tuple[int, int | None]:
    """How many items match: (certain, possible); possible None = no upper bound."""
    items, complete = view.items(node.count)
    if items is None:
        return 0, None
    lo = unknown = 0
    since = months_before(view.on, node.within_months) if node.within_months else None
    for item in items:
        t: Truth = True if where is None else where(item)
        if since is not None and t is not False:
            d = item.get("date")
            t = kleene_all([t, None if d is None else d >= since])  # type: ignore[operator]
        if t is True:
            lo += 1
        elif t is None:
            unknown += 1
    return lo, (lo + unknown if complete is True else None)


def cond_key(cond: Condition | None) -> str:
    """A canonical text of a condition: equal conditions (wherever they appear) share one key."""
    if cond is None:
        return ""
    data = cond.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(data, sort_keys=True)


_MISS: Any = object()
_memo_ids = itertools.count()


def memo_key() -> int:
    """A fresh key for ``CaseView.memo``: each memoised computation has its own (one counter)."""
    return next(_memo_ids)


CountRange = tuple[int, int | None]
CountFn = Callable[[CaseView], CountRange]


class _Compiler:
    """Compiles conditions into closures.

    Derived facts and counts are computed at most once per case view (kept in ``view.memo``):
    identical count nodes anywhere in the pack (same list, ``where`` and window) share one count.
    """

    def __init__(self, pack: Pack | None) -> None:
        self.pack = pack
        self._derived: dict[str, tuple[int, Callable[[CaseView], Value]]] = {}
        self._derived_fns: dict[str, Callable[[CaseView], Value]] = {}
        self._counts: dict[tuple[str, str, int | None], tuple[int, CountFn]] = {}
        self._count_fns: dict[int, CountFn] = {}

    def value_fn(self, path: str) -> Callable[[CaseView], Value]:
        if path.startswith("derived."):
            return self._derived_fn(path)
        getter = operator.attrgetter(path)

        def get(view: CaseView) -> Value:
            return getter(view.case)  # type: ignore[no-any-return]

        return get

    def count_fn(self, node: CountTest) -> CountFn:
        """``count_range`` of a count node, memoised per case view and shared by equal nodes."""
        key, compute = self._count_parts(node)
        fn = self._count_fns.get(key)
        if fn is None:
            fn = self._count_fns[key] = memo_get(key, compute)
        return fn

    def _count_parts(self, node: CountTest) -> tuple[int, CountFn]:
        skey = (node.count, cond_key(node.where), node.within_months)
        parts = self._counts.get(skey)
        if parts is None:
            where = self.item(node.where) if node.where is not None else None
            parts = self._counts[skey] = (memo_key(), _count_compute(node, where))
        return parts

    def _derived_parts(self, name: str) -> tuple[int, Callable[[CaseView], Value]]:
        parts = self._derived.get(name)
        if parts is None:
            d = DERIVED[name]
            definition = d.definition
            compute: Callable[[CaseView], Value]
            if d.kind == "count":
                assert isinstance(definition, CountTest)
                count = self.count_fn(definition)

                def compute(view: CaseView) -> Value:
                    lo, hi = count(view)
                    return (float(lo), None if hi is None else float(hi))
            elif d.kind == "confirmed":
                truth = self.top(definition)

                def compute(view: CaseView) -> Value:
                    return truth(view) is True
            else:
                compute = self.top(definition)
            parts = self._derived[name] = (memo_key(), compute)
        return parts

    def _derived_fn(self, name: str) -> Callable[[CaseView], Value]:
        fn = self._derived_fns.get(name)
        if fn is None:
            fn = self._derived_fns[name] = memo_get(*self._derived_parts(name))
        return fn

    def top(self, cond: Condition) -> TopFn:
        if isinstance(cond, AllOf):
            return _all([self.top(c) for c in cond.all])
        if isinstance(cond, AnyOf):
            return _any([self.top(c) for c in cond.any])
        if isinstance(cond, NotOf):
            return _not(self.top(cond.not_))
        if isinstance(cond, FactTest):
            op, bound = cond.op()
            if cond.fact.startswith("derived."):
                return _memo_leaf(op, bound, *self._derived_parts(cond.fact))
            return _case_leaf(op, bound, operator.attrgetter(cond.fact))
        if isinstance(cond, CountTest):
            return _count_test(*self._count_parts(cond), cond.at_least, cond.at_most)
        if isinstance(cond, OutcomeTest):
            return self._outcome_test(cond)
        raise TypeError(type(cond))  # pragma: no cover

    def _outcome_test(self, cond: OutcomeTest) -> TopFn:
        lo_b, hi_b, allowed = self.outcome_bounds(cond)
        n = len(self.pack.ladder) if self.pack else 0
        ok = frozenset(r for r in range(n)
                       if lo_b <= r <= hi_b and (allowed is None or r in allowed))

        # Actions follow the outcome the known facts establish (the lowest bound); a level that
        # unknown facts could still reach makes the test undecided.
        def truth_of(rng: OutcomeRange) -> Truth:
            lo, hi = rng
            if lo in ok:
                return True
            return None if any(r in ok for r in range(lo + 1, hi + 1)) else False

        table = {(lo, hi): truth_of((lo, hi)) for lo in range(n) for hi in range(lo, n)}

        def outcome_truth(v: CaseView) -> Truth:
            rng = v.__dict__["outcome_range"]
            t = table.get(rng, _MISS)
            return truth_of(rng) if t is _MISS else t

        return outcome_truth

    def outcome_bounds(self, cond: OutcomeTest) -> tuple[int, int, set[int] | None]:
        assert self.pack is not None
        b = cond.outcome
        lo = self.pack.rank(b.at_least) if b.at_least else 0
        hi = self.pack.rank(b.at_most) if b.at_most else len(self.pack.ladder) - 1
        allowed = {self.pack.rank(x) for x in b.in_} if b.in_ else None
        return lo, hi, allowed

    def item(self, cond: Condition) -> ItemFn:
        if isinstance(cond, AllOf):
            return _all([self.item(c) for c in cond.all])
        if isinstance(cond, AnyOf):
            return _any([self.item(c) for c in cond.any])
        if isinstance(cond, NotOf):
            return _not(self.item(cond.not_))
        if isinstance(cond, FactTest):
            op, bound = cond.op()
            return _item_leaf(op, bound, cond.fact)
        raise TypeError(f"{type(cond).__name__} is not allowed inside a count's where")


def memo_get(key: int, compute: Callable[[CaseView], Any]) -> Callable[[CaseView], Any]:
    """``compute(view)``, computed once per view (kept in ``view.memo[key]``)."""
    def get(view: CaseView) -> Any:
        memo = view.memo
        v = memo.get(key, _MISS)
        if v is _MISS:
            v = memo[key] = compute(view)
        return v

    return get


def _count_compute(node: CountTest, where: ItemFn | None) -> CountFn:
    """``count_range(view, node, where)``, specialised for the common shapes of a count."""
    collection = node.count
    if node.within_months:
        return lambda view: count_range(view, node, where)
    if where is None:
        def count_all(view: CaseView) -> CountRange:
            items, complete = view.items(collection)
            if items is None:
                return 0, None
            return len(items), (len(items) if complete is True else None)
        return count_all
    w = node.where
    if isinstance(w, FactTest) and w.op()[0] == "is" and isinstance(w.op()[1], bool):
        # the common `where: {fact: f, is: true}`, inlined (same logic as _leaf's is_bool)
        key, bound = w.fact, w.op()[1]

        def count_bool(view: CaseView) -> CountRange:
            items, complete = view.items(collection)
            if items is None:
                return 0, None
            lo = unknown = 0
            for item in items:
                v = item.get(key)
                if v is None:
                    unknown += 1
                elif v is bound:
                    lo += 1
            return lo, (lo + unknown if complete is True else None)
        return count_bool
    test = where

    def count_where(view: CaseView) -> CountRange:
        items, complete = view.items(collection)
        if items is None:
            return 0, None
        lo = unknown = 0
        for item in items:
            t = test(item)
            if t is True:
                lo += 1
            elif t is None:
                unknown += 1
        return lo, (lo + unknown if complete is True else None)
    return count_where


def _count_test(key: int, compute: CountFn, at_least: int | None, at_most: int | None) -> TopFn:
    if at_most is None and at_least is not None:
        least = at_least

        def count_at_least(view: CaseView) -> Truth:
            memo = view.memo
            r = memo.get(key)
            if r is None:
                r = memo[key] = compute(view)
            lo, hi = r
            return True if lo >= least else (False if hi is not None and hi < least else None)
        return count_at_least
    count = memo_get(key, compute)

    def count_both(view: CaseView) -> Truth:
        lo, hi = count(view)
        return count_truth(lo, hi, at_least, at_most)
    return count_both


def _item_leaf(op: str, bound: Any, key: str) -> ItemFn:
    """A test of a field of a list item (the same answers as ``_leaf``, read inline)."""
    if op == "is" and isinstance(bound, bool):
        def is_bool(item: dict[str, Value]) -> Truth:
            v = item.get(key)
            return None if v is None else v is bound
        return is_bool
    if op in ("lt", "lte", "gt", "gte"):
        def number(item: dict[str, Value]) -> Truth:
            v = item.get(key)
            if type(v) is not tuple:
                return compare(op, v, bound)
            return interval_compare(op, v[0], v[1], bound)  # an interval (a child's age)
        return number
    return _leaf(op, bound, lambda it: it.get(key))


def _case_leaf(op: str, bound: Any, getter: Callable[[Any], Any]) -> TopFn:
    """A test of a fact of the case itself (read straight from the case)."""
    if op == "is" and isinstance(bound, bool):
        def is_bool(view: CaseView) -> Truth:
            v = getter(view.case)
            return None if v is None else v is bound
        return is_bool
    return _leaf(op, bound, lambda view: getter(view.case))


def _memo_leaf(op: str, bound: Any, key: int, compute: Callable[[CaseView], Value]) -> TopFn:
    """A test of a derived fact, computed once per view."""
    if op == "is" and isinstance(bound, bool):
        def is_bool(view: CaseView) -> Truth:
            memo = view.memo
            v = memo.get(key, _MISS)
            if v is _MISS:
                v = memo[key] = compute(view)
            return None if v is None else v is bound
        return is_bool
    return _leaf(op, bound, memo_get(key, compute))


# Closures specialised once per node; each returns True, False or None (unknown).
def _junction(parts: list[Callable[[Any], Truth]], decisive: bool) -> Callable[[Any], Truth]:
    """Kleene ``all`` (decisive False) or ``any`` (decisive True) of the parts, short-circuiting."""
    if len(parts) == 1:
        return parts[0]
    other = not decisive
    if len(parts) == 2:
        a, b = parts

        def f2(x: Any) -> Truth:
            t = a(x)
            if t is decisive:
                return decisive
            u = b(x)
            if u is decisive:
                return decisive
            return None if t is None or u is None else other

        return f2

    def f(x: Any) -> Truth:
        unknown = False
        for p in parts:
            t = p(x)
            if t is decisive:
                return decisive
            if t is None:
                unknown = True
        return None if unknown else other

    return f


def _all(parts: list[Callable[[Any], Truth]]) -> Callable[[Any], Truth]:
    return _junction(parts, False)


def _any(parts: list[Callable[[Any], Truth]]) -> Callable[[Any], Truth]:
    return _junction(parts, True)


def _not(inner: Callable[[Any], Truth]) -> Callable[[Any], Truth]:
    def f(x: Any) -> Truth:
        t = inner(x)
        return None if t is None else not t

    return f


def _leaf(op: str, bound: Any, get: Callable[[Any], Value]) -> Callable[[Any], Truth]:
    if op == "is" and isinstance(bound, bool):
        def is_bool(x: Any) -> Truth:
            v = get(x)
            return None if v is None else v is bound
        return is_bool
    if op == "is":
        def is_value(x: Any) -> Truth:
            v = get(x)
            if v is None:
                return None
            return compare("is", v, bound) if type(v) is tuple else v == bound
        return is_value
    if op == "in":
        allowed = frozenset(bound)

        def in_values(x: Any) -> Truth:
            v = get(x)
            if type(v) is tuple:
                return compare("in", v, bound)
            return None if v is None else v in allowed
        return in_values

    def cmp(x: Any) -> Truth:
        return compare(op, get(x), bound)
    return cmp


def _outcome_rank(pack: Pack, rule: Rule) -> int:
    return pack.rank(rule.outcome) if rule.outcome else -1


def outcome_range(pack: Pack, truths: dict[str, Truth]) -> OutcomeRange:
    """Lowest and highest outcome rank given which outcome rules are certain / possible."""
    rank = {lv.id: i for i, lv in enumerate(pack.ladder)}
    lo = hi = rank[pack.default_outcome]
    for rule in pack.rules:
        if rule.outcome is None or rule.id not in truths:
            continue
        r = rank[rule.outcome]
        hi = max(hi, r)
        if truths[rule.id] is True:
            lo = max(lo, r)
    return lo, hi


class CompiledPack:
    """A pack's conditions compiled once into closures (the stateless fast path)."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        c = _Compiler(pack)
        fns = [c.top(r.when) for r in pack.rules]
        self.compiler = c
        # (rule id, truth function), kept for callers that evaluate rules one by one
        rules = list(enumerate(zip(pack.rules, fns, strict=True)))
        self.outcome_fns = [(r.id, fn) for _, (r, fn) in rules if r.outcome is not None]
        self.other_fns = [(r.id, fn) for _, (r, fn) in rules if r.outcome is None]
        self._n = len(pack.rules)
        self._default = pack.rank(pack.default_outcome)
        self._outcome = [(i, r.id, fn, pack.rank(r.outcome))
                         for i, (r, fn) in rules if r.outcome is not None]
        self._other = [(i, r.id, fn) for i, (r, fn) in rules if r.outcome is None]

    def match(self, view: CaseView) -> Match:
        truths: list[Truth] = [False] * self._n
        outcome: dict[str, Truth] = {}
        lo = hi = self._default
        for i, rid, fn, rank in self._outcome:
            t = fn(view)
            if t is not False:
                truths[i] = outcome[rid] = t
                if rank > hi:
                    hi = rank
                if t is True and rank > lo:
                    lo = rank
        rng = (lo, hi)
        view.__dict__["outcome_range"] = rng
        other: dict[str, Truth] = {}
        for i, rid, fn in self._other:
            t = fn(view)
            if t is not False:
                truths[i] = other[rid] = t
        # the same as Match(outcome, other, rng, truths), without the frozen dataclass's __init__
        m = _new(Match)
        _setattr(m, "__dict__", {"outcome_rules": outcome, "action_rules": other,
                                 "outcome_range": rng, "truths": truths})
        return m


_new = object.__new__
_setattr = object.__setattr__


# --------------------------------------------------------------------------------------------
# durable-rules
# --------------------------------------------------------------------------------------------

_BIG = 1e9


class _Encoder:
    """Turns a pack's conditions into durable-rules expressions over flat numeric fields.

    Each leaf of a condition becomes a feature ``fN`` whose value is an interval ``fN_lo`` ..
    ``fN_hi``: a yes/no leaf is 1..1 (true), 0..0 (false) or 0..1 (unknown); a number or count is
    its own interval. ``T`` is "certainly true", ``P`` "possibly true"; ``F`` and ``Q`` are their
    duals, needed under ``not``.
    """

    def __init__(self, compiler: _Compiler) -> None:
        self.compiler = compiler
        self.features: list[Callable[[CaseView], tuple[float, float]]] = []

    def _feature(self, fn: Callable[[CaseView], tuple[float, float]]) -> str:
        self.features.append(fn)
        return f"f{len(self.features) - 1}"

    def _truth_feature(self, fn: TopFn) -> str:
        def enc(v: CaseView) -> tuple[float, float]:
            t = fn(v)
            return (1.0, 1.0) if t is True else ((0.0, 0.0) if t is False else (0.0, 1.0))
        return self._feature(enc)

    def _number_feature(self, get: Callable[[CaseView], Value]) -> str:
        def enc(v: CaseView) -> tuple[float, float]:
            value = get(v)
            if value is None or isinstance(value, (bool, str)):
                return (-_BIG, _BIG)
            if isinstance(value, tuple):
                iv: Interval = value
                return (iv[0], _BIG if iv[1] is None else iv[1])
            return (float(value), float(value))
        return self._feature(enc)

    def encode(self, cond: Condition) -> dict[str, dict[str, Any]]:
        """Expressions for T, F, P, Q of a condition."""
        if isinstance(cond, AllOf | AnyOf):
            parts = [self.encode(c) for c in (cond.all if isinstance(cond, AllOf) else cond.any)]
            conj, disj = ("$and", "$or") if isinstance(cond, AllOf) else ("$or", "$and")
            return {
                "T": {conj: [p["T"] for p in parts]},
                "F": {disj: [p["F"] for p in parts]},
                "P": {conj: [p["P"] for p in parts]},
                "Q": {disj: [p["Q"] for p in parts]},
            }
        if isinstance(cond, NotOf):
            inner = self.encode(cond.not_)
            return {"T": inner["F"], "F": inner["T"], "P": inner["Q"], "Q": inner["P"]}
        if isinstance(cond, FactTest) and cond.op()[0] in ("lt", "lte", "gt", "gte"):
            op, bound = cond.op()
            f = self._number_feature(self.compiler.value_fn(cond.fact))
            return _interval_compare(f, op, bound)
        if isinstance(cond, CountTest):
            count = self.compiler.count_fn(cond)

            def enc(v: CaseView) -> tuple[float, float]:
                lo, hi = count(v)
                return (float(lo), _BIG if hi is None else float(hi))

            f = self._feature(enc)
            parts = []
            if cond.at_least is not None:
                parts.append(_interval_compare(f, "gte", cond.at_least))
            if cond.at_most is not None:
                parts.append(_interval_compare(f, "lte", cond.at_most))
            if len(parts) == 1:
                return parts[0]
            return {"T": {"$and": [p["T"] for p in parts]}, "F": {"$or": [p["F"] for p in parts]},
                    "P": {"$and": [p["P"] for p in parts]}, "Q": {"$or": [p["Q"] for p in parts]}}
        if isinstance(cond, OutcomeTest):
            # the outcome range is handed over as its own interval: 'ofT'/'ofP' computed per test
            f = self._truth_feature(self.compiler.top(cond))
            return _interval_compare(f, "gte", 1)
        # equality / membership of a yes/no or enum fact
        f = self._truth_feature(self.compiler.top(cond))
        return _interval_compare(f, "gte", 1)


def _interval_compare(f: str, op: str, bound: float) -> dict[str, dict[str, Any]]:
    lo, hi = f"{f}_lo", f"{f}_hi"
    if op == "lt":
        return {"T": {"$lt": {hi: bound}}, "F": {"$gte": {lo: bound}},
                "P": {"$lt": {lo: bound}}, "Q": {"$gte": {hi: bound}}}
    if op == "lte":
        return {"T": {"$lte": {hi: bound}}, "F": {"$gt": {lo: bound}},
                "P": {"$lte": {lo: bound}}, "Q": {"$gt": {hi: bound}}}
    if op == "gt":
        return {"T": {"$gt": {lo: bound}}, "F": {"$lte": {hi: bound}},
                "P": {"$gt": {hi: bound}}, "Q": {"$lte": {lo: bound}}}
    if op == "gte":
        return {"T": {"$gte": {lo: bound}}, "F": {"$lt": {hi: bound}},
                "P": {"$gte": {hi: bound}}, "Q": {"$lt": {lo: bound}}}
    raise ValueError(op)


_ruleset_ids = itertools.count()
_CHUNK = 20


def _quiet_host() -> Any:
    """A durable-rules Host without its background dispatch threads.

    ``durable.engine.Host`` starts two timer threads that call into the C engine every 0.2 s to
    dispatch timers and queued messages. Packs use neither (``assert_fact`` runs matching actions
    synchronously), and those threads racing with evaluation crashed the process here
    (segmentation fault, abort in ``delete_state``), so they are not started.
    """
    from durable.engine import Host

    class QuietHost(Host):  # type: ignore[misc]
        def _run(self) -> None:
            return None

    return QuietHost()

# durable-rules' C engine crashed (segmentation fault) here when two threads asserted facts at the
# same time, and gives no speed-up from threads anyway: every call into it is serialised.
_DURABLE_LOCK = threading.RLock()


class DurablePack:
    """A pack compiled once into two durable-rules rulesets (outcome rules, then action rules)."""

    def __init__(self, pack: Pack) -> None:
        from durable.engine import MessageNotHandledException

        self._not_handled = MessageNotHandledException
        self.pack = pack
        self.host = _quiet_host()
        self._lock = threading.Lock()
        self._hits: dict[str, set[tuple[str, str]]] = {}
        self._sids = itertools.count()
        compiler = _Compiler(pack)
        tag = f"{pack.id}_{next(_ruleset_ids)}"
        self.encoders = {"outcome": _Encoder(compiler), "actions": _Encoder(compiler)}
        self.rulesets: dict[str, list[str]] = {"outcome": [], "actions": []}
        definitions: dict[str, dict[str, Any]] = {}
        for phase in ("outcome", "actions"):
            enc = self.encoders[phase]
            phase_rules = [r for r in pack.rules if (r.outcome is not None) == (phase == "outcome")]
            # durable-rules 2.0.28 fails ("error code: 303", or a crash) when one fact fires more
            # than about 50 rules of a ruleset, so each phase is split into rulesets of at most
            # _CHUNK pack rules, and each pack rule fires at most once: <id>#T when certainly
            # true, <id>#U when possibly true and possibly false (undecided).
            for start in range(0, max(len(phase_rules), 1), _CHUNK):
                rules: dict[str, Any] = {}
                for rule in phase_rules[start:start + _CHUNK]:
                    exprs = enc.encode(rule.when)
                    rules[f"{rule.id}#T"] = {"all": [{"m": exprs["T"]}], "run": self._callback(rule.id, "T")}
                    rules[f"{rule.id}#U"] = {"all": [{"m": {"$and": [exprs["P"], exprs["Q"]]}}],
                                             "run": self._callback(rule.id, "U")}
                # Every fact must match some rule: durable-rules 2.0.28 crashed (segmentation
                # fault) in delete_state for a session whose only fact matched nothing. This rule
                # matches every fact and records nothing; it also keeps an empty phase valid.
                rules["__seen__"] = {"all": [{"m": {"$gte": {"__seen__": 1}}}], "run": lambda c: None}
                name = f"{tag}_{phase[0]}{start // _CHUNK}"
                self.rulesets[phase].append(name)
                definitions[name] = rules
        for name, rules in definitions.items():
            try:
                with _DURABLE_LOCK:
                    self.host.set_rulesets({name: dict(rules)})
            except Exception as e:  # noqa: BLE001 - durable raises bare errors with codes only
                raise EngineError(f"pack {pack.ref}: durable-rules refused ruleset {name}: {e}; "
                                  f"first failing rule: {self._first_failing(rules)}") from None

    @staticmethod
    def _first_failing(rules: dict[str, Any]) -> str:
        for rid, spec in rules.items():
            try:
                with _DURABLE_LOCK:
                    _quiet_host().set_rulesets({"probe": {rid: dict(spec)}})
            except Exception:  # noqa: BLE001
                return rid.split("#")[0]
        return "none on its own"

    def _callback(self, rule_id: str, kind: str) -> Callable[[Any], None]:
        def run(c: Any) -> None:
            sid = c.m["sid"]
            with self._lock:
                hits = self._hits.get(sid)
            if hits is not None:
                hits.add((rule_id, kind))
        return run

    def fact(self, phase: str, view: CaseView, sid: str, fact_id: str) -> dict[str, Any]:
        fact: dict[str, Any] = {"sid": sid, "id": fact_id, "__seen__": 1}
        for i, fn in enumerate(self.encoders[phase].features):
            lo, hi = fn(view)
            fact[f"f{i}_lo"] = lo
            fact[f"f{i}_hi"] = hi
        return fact

    def _assert(self, phase: str, fact: dict[str, Any]) -> dict[str, Truth]:
        sid = fact["sid"]
        with self._lock:
            self._hits[sid] = set()
        for name in self.rulesets[phase]:
            with contextlib.suppress(self._not_handled):  # no rule matched: a normal outcome
                self.host.assert_fact(name, fact)
        with self._lock:
            hits = self._hits.pop(sid)
        out: dict[str, Truth] = {}
        for rid, kind in sorted(hits):
            if kind == "T":
                out[rid] = True
            elif rid not in out:
                out[rid] = None
        return out

    def match(self, view: CaseView, sid: str | None = None, fact_no: int = 0,
              asserted: list[tuple[str, dict[str, Any]]] | None = None) -> Match:
        """Match one case. With ``sid`` the facts stay in that session (see sessions), and the
        facts asserted are appended to ``asserted`` so that the session can retract them later."""
        own = sid is None
        sid = sid or f"e{next(self._sids)}"
        with _DURABLE_LOCK:
            return self._match(view, sid, fact_no, own, asserted)

    def _match(self, view: CaseView, sid: str, fact_no: int, own: bool,
               asserted: list[tuple[str, dict[str, Any]]] | None) -> Match:
        try:
            first = self.fact("outcome", view, sid, f"o{fact_no}")
            outcome = self._assert("outcome", first)
            outcome = {r.id: outcome[r.id] for r in self.pack.rules if r.id in outcome}
            rng = outcome_range(self.pack, outcome)
            view.__dict__["outcome_range"] = rng
            second = self.fact("actions", view, sid, f"a{fact_no}")
            other = self._assert("actions", second)
            other = {r.id: other[r.id] for r in self.pack.rules if r.id in other}
            if asserted is not None:
                asserted += [("outcome", first), ("actions", second)]
            return Match(outcome, other, rng)
        finally:
            if own:
                self._drop(sid)

    def retract(self, view_facts: list[tuple[str, dict[str, Any]]]) -> None:
        with _DURABLE_LOCK:
            self._retract(view_facts)

    def _retract(self, view_facts: list[tuple[str, dict[str, Any]]]) -> None:
        for phase, fact in view_facts:
            for name in self.rulesets[phase]:
                with contextlib.suppress(self._not_handled):
                    self.host.retract_fact(name, fact)

    def drop(self, sid: str) -> None:
        with _DURABLE_LOCK:
            self._drop(sid)

    def _drop(self, sid: str) -> None:
        for names in self.rulesets.values():
            for name in names:
                with contextlib.suppress(Exception):  # no state for this sid is fine
                    self.host.delete_state(name, sid)


_compile_lock = threading.Lock()


def compiled(pack: Pack) -> CompiledPack:
    """The pack's compiled fast path, built once per pack object."""
    private = pack.__pydantic_private__  # pack._compiled, without pydantic's slow attribute lookup
    cache = private.get("_compiled") if private is not None else pack._compiled
    if cache is None:
        with _compile_lock:
            if pack._compiled is None:
                pack._compiled = {"compiled": CompiledPack(pack)}
            cache = pack._compiled
    return cache["compiled"]  # type: ignore[no-any-return]


def durable(pack: Pack) -> DurablePack:
    """The pack's durable-rules rulesets, built once per pack object."""
    compiled(pack)
    cache = pack._compiled
    if "durable" not in cache:
        with _compile_lock, _DURABLE_LOCK:
            if "durable" not in cache:
                cache["durable"] = DurablePack(pack)
    return cache["durable"]  # type: ignore[no-any-return]
