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

import itertools
import operator
import threading
from collections.abc import Callable
from dataclasses import dataclass
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
    kleene_all,
    kleene_any,
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
    """Which rules hold for one case: rule id → True / None (unknown); false rules are absent."""

    outcome_rules: dict[str, Truth]
    action_rules: dict[str, Truth]
    outcome_range: OutcomeRange


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


class _Compiler:
    """Compiles conditions into closures; derived facts are computed at most once per case view."""

    def __init__(self, pack: Pack | None) -> None:
        self.pack = pack
        self._derived: dict[str, Callable[[CaseView], Value]] = {}

    def value_fn(self, path: str) -> Callable[[CaseView], Value]:
        if path.startswith("derived."):
            return self._derived_fn(path)
        getter = operator.attrgetter(path)

        def get(view: CaseView) -> Value:
            return getter(view.case)  # type: ignore[no-any-return]

        return get

    def _derived_fn(self, name: str) -> Callable[[CaseView], Value]:
        if name not in self._derived:
            d = DERIVED[name]
            definition = d.definition
            if d.kind == "count":
                assert isinstance(definition, CountTest)
                where = self.item(definition.where) if definition.where else None
                node = definition

                def compute(view: CaseView) -> Value:
                    lo, hi = count_range(view, node, where)
                    return (float(lo), None if hi is None else float(hi))
            elif d.kind == "confirmed":
                truth = self.top(definition)

                def compute(view: CaseView) -> Value:
                    return truth(view) is True
            else:
                truth = self.top(definition)

                def compute(view: CaseView) -> Value:
                    return truth(view)

            def cached(view: CaseView, _n: str = name, _c: Callable[[CaseView], Value] = compute) -> Value:
                memo = view.__dict__.setdefault("_memo", {})
                if _n not in memo:
                    memo[_n] = _c(view)
                return memo[_n]  # type: ignore[no-any-return]

            self._derived[name] = cached
        return self._derived[name]

    def top(self, cond: Condition) -> TopFn:
        if isinstance(cond, AllOf):
            return _all([self.top(c) for c in cond.all])  # type: ignore[arg-type]
        if isinstance(cond, AnyOf):
            return _any([self.top(c) for c in cond.any])  # type: ignore[arg-type]
        if isinstance(cond, NotOf):
            return _not(self.top(cond.not_))  # type: ignore[arg-type]
        if isinstance(cond, FactTest):
            op, bound = cond.op()
            return _leaf(op, bound, self.value_fn(cond.fact))  # type: ignore[arg-type]
        if isinstance(cond, CountTest):
            where = self.item(cond.where) if cond.where is not None else None
            node = cond
            return lambda v: count_truth(*count_range(v, node, where), node.at_least, node.at_most)
        if isinstance(cond, OutcomeTest):
            lo_b, hi_b, allowed = self.outcome_bounds(cond)
            n = len(self.pack.ladder) if self.pack else 0
            ok = frozenset(r for r in range(n) if lo_b <= r <= hi_b and (allowed is None or r in allowed))

            def outcome_truth(v: CaseView) -> Truth:
                # Actions follow the outcome the known facts establish (the lowest bound); a level
                # that unknown facts could still reach makes the test undecided.
                lo, hi = v.__dict__["outcome_range"]
                if lo in ok:
                    return True
                return None if any(r in ok for r in range(lo + 1, hi + 1)) else False

            return outcome_truth
        raise TypeError(type(cond))  # pragma: no cover

    def outcome_bounds(self, cond: OutcomeTest) -> tuple[int, int, set[int] | None]:
        assert self.pack is not None
        b = cond.outcome
        lo = self.pack.rank(b.at_least) if b.at_least else 0
        hi = self.pack.rank(b.at_most) if b.at_most else len(self.pack.ladder) - 1
        allowed = {self.pack.rank(x) for x in b.in_} if b.in_ else None
        return lo, hi, allowed

    def item(self, cond: Condition) -> ItemFn:
        if isinstance(cond, AllOf):
            return _all([self.item(c) for c in cond.all])  # type: ignore[arg-type]
        if isinstance(cond, AnyOf):
            return _any([self.item(c) for c in cond.any])  # type: ignore[arg-type]
        if isinstance(cond, NotOf):
            return _not(self.item(cond.not_))  # type: ignore[arg-type]
        if isinstance(cond, FactTest):
            op, bound = cond.op()
            key = cond.fact
            return _leaf(op, bound, lambda it: it.get(key))  # type: ignore[arg-type]
        raise TypeError(f"{type(cond).__name__} is not allowed inside a count's where")


# Closures specialised once per node; each returns True, False or None (unknown).
def _all(parts: list[Callable[[Any], Truth]]) -> Callable[[Any], Truth]:
    if len(parts) == 1:
        return parts[0]

    def f(x: Any) -> Truth:
        unknown = False
        for p in parts:
            t = p(x)
            if t is False:
                return False
            if t is None:
                unknown = True
        return None if unknown else True

    return f


def _any(parts: list[Callable[[Any], Truth]]) -> Callable[[Any], Truth]:
    if len(parts) == 1:
        return parts[0]

    def f(x: Any) -> Truth:
        unknown = False
        for p in parts:
            t = p(x)
            if t is True:
                return True
            if t is None:
                unknown = True
        return None if unknown else False

    return f


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
            return None if v is None else v in allowed
        return in_values

    def cmp(x: Any) -> Truth:
        return compare(op, get(x), bound)
    return cmp


def _outcome_rank(pack: Pack, rule: Rule) -> int:
    return pack.rank(rule.outcome) if rule.outcome else -1


def outcome_range(pack: Pack, truths: dict[str, Truth]) -> OutcomeRange:
    """Lowest and highest outcome rank given which outcome rules are certain / possible."""
    lo = hi = pack.rank(pack.default_outcome)
    for rule in pack.rules:
        if rule.outcome is None or rule.id not in truths:
            continue
        r = pack.rank(rule.outcome)
        hi = max(hi, r)
        if truths[rule.id] is True:
            lo = max(lo, r)
    return lo, hi


class CompiledPack:
    """A pack's conditions compiled once into closures (the stateless fast path)."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        c = _Compiler(pack)
        self.outcome_fns = [(r.id, c.top(r.when)) for r in pack.rules if r.outcome is not None]
        self.other_fns = [(r.id, c.top(r.when)) for r in pack.rules if r.outcome is None]
        self.compiler = c

    def match(self, view: CaseView) -> Match:
        outcome: dict[str, Truth] = {}
        for rid, fn in self.outcome_fns:
            t = fn(view)
            if t is not False:
                outcome[rid] = t
        rng = outcome_range(self.pack, outcome)
        view.__dict__["outcome_range"] = rng
        other: dict[str, Truth] = {}
        for rid, fn in self.other_fns:
            t = fn(view)
            if t is not False:
                other[rid] = t
        return Match(outcome, other, rng)


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
            where = self.compiler.item(cond.where) if cond.where is not None else None
            node = cond

            def enc(v: CaseView) -> tuple[float, float]:
                lo, hi = count_range(v, node, where)
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
        self.rulesets = {"outcome": f"{tag}_o", "actions": f"{tag}_a"}
        self.encoders = {"outcome": _Encoder(compiler), "actions": _Encoder(compiler)}
        definitions: dict[str, dict[str, Any]] = {}
        for phase in ("outcome", "actions"):
            enc = self.encoders[phase]
            rules: dict[str, Any] = {}
            for rule in pack.rules:
                if (rule.outcome is not None) != (phase == "outcome"):
                    continue
                exprs = enc.encode(rule.when)
                for kind in ("T", "P"):
                    rules[f"{rule.id}#{kind}"] = {"all": [{"m": exprs[kind]}],
                                                  "run": self._callback(rule.id, kind)}
            # Every fact must match some rule: durable-rules 2.0.28 crashed (segmentation fault)
            # in delete_state for a session whose only fact matched nothing. This rule matches
            # every fact and records nothing; it also keeps a ruleset with no pack rules valid.
            rules["__seen__"] = {"all": [{"m": {"$gte": {"__seen__": 1}}}], "run": lambda c: None}
            definitions[self.rulesets[phase]] = rules
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
        try:
            self.host.assert_fact(self.rulesets[phase], fact)
        except self._not_handled:
            pass  # no rule matched: a normal outcome
        with self._lock:
            hits = self._hits.pop(sid)
        out: dict[str, Truth] = {}
        for rid, kind in sorted(hits):
            if kind == "T":
                out[rid] = True
            elif rid not in out:
                out[rid] = None
        return out

    def match(self, view: CaseView, sid: str | None = None, fact_no: int = 0) -> Match:
        """Match one case. With ``sid`` the facts stay in that session (see sessions)."""
        own = sid is None
        sid = sid or f"e{next(self._sids)}"
        with _DURABLE_LOCK:
            return self._match(view, sid, fact_no, own)

    def _match(self, view: CaseView, sid: str, fact_no: int, own: bool) -> Match:
        try:
            outcome = self._assert("outcome", self.fact("outcome", view, sid, f"o{fact_no}"))
            outcome = {r.id: outcome[r.id] for r in self.pack.rules if r.id in outcome}
            rng = outcome_range(self.pack, outcome)
            view.__dict__["outcome_range"] = rng
            other = self._assert("actions", self.fact("actions", view, sid, f"a{fact_no}"))
            other = {r.id: other[r.id] for r in self.pack.rules if r.id in other}
            return Match(outcome, other, rng)
        finally:
            if own:
                self._drop(sid)

    def retract(self, view_facts: list[tuple[str, dict[str, Any]]]) -> None:
        with _DURABLE_LOCK:
            self._retract(view_facts)

    def _retract(self, view_facts: list[tuple[str, dict[str, Any]]]) -> None:
        for phase, fact in view_facts:
            try:
                self.host.retract_fact(self.rulesets[phase], fact)
            except self._not_handled:
                pass

    def drop(self, sid: str) -> None:
        with _DURABLE_LOCK:
            self._drop(sid)

    def _drop(self, sid: str) -> None:
        for name in self.rulesets.values():
            try:
                self.host.delete_state(name, sid)
            except Exception:  # noqa: BLE001 - no state for this sid is fine
                pass


_compile_lock = threading.Lock()


def compiled(pack: Pack) -> CompiledPack:
    """The pack's compiled fast path, built once per pack object."""
    cache = pack._compiled
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
