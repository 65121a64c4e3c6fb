"""Benchmark: the public evaluate() on the London pack against the limit, in one run.

Prints, measured in this run on this machine:
  * evaluations/s of dvsafeguard.evaluate(dict, pack) — case validation and the full cited
    decision included (compiled fast path);
  * evaluations/s of the same London conditions written by hand as plain Python predicates over
    already-validated facts, with the same three-valued treatment of unknowns (the limit): it
    returns the outcome range and the rules that apply, nothing else;
  * the ratio of the two (target ≥ 0.5);
  * evaluations/s through durable-rules (one session per case) and through an assessment session;
  * memory growth (RSS and traced Python heap) over N evaluations (target: flat).

Run:  .venv/bin/python benchmarks/bench_evaluate.py [--n 100000] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from typing import Any

import dvsafeguard as dv
from dvsafeguard.facts import Case

CASES: list[dict[str, Any]] = [
    {"assessment_date": "2009-01-10", "children": [{"age_years": 3, "in_household": True}],
     "children_complete": True, "victim": {"pregnant": False}, "matrix": [{"scale": 1, "category": "evidence"}]},
    {"assessment_date": "2009-01-10", "children": [{"date_of_birth": "2008-06-01", "in_household": True}],
     "children_complete": True, "incidents": [{"date": "2008-12-30", "severity": "lesser"}],
     "concerns": {"domestic_abuse_known": True}},
    {"assessment_date": "2009-01-10", "victim": {"consents_to_early_help": False},
     "matrix": [{"scale": 2, "category": "evidence"}], "assessments": {"specss": "medium"}},
    {"assessment_date": "2009-01-10", "children": [], "assessments": {"specss": "high"},
     "victim": {"vulnerable_adult": True}},
    {"assessment_date": "2009-01-10", "children": [{"age_years": 8}, {"age_years": 15, "abusing_family_members": True}],
     "children_complete": True, "victim": {"staying_with_abuser": True, "pregnant": False},
     "matrix": [{"scale": 3, "category": "risk_factor"}]},
    {"assessment_date": "2009-01-10"},
]

# ---------------------------------------------------------------------------------------------
# The limit: the London conditions as plain predicates (Kleene logic: True / False / None).
# ---------------------------------------------------------------------------------------------

T = bool | None


def _and(*xs: T) -> T:
    return False if False in xs else (None if None in xs else True)


def _or(*xs: T) -> T:
    return True if True in xs else (None if None in xs else False)


def _is(v: Any, want: Any) -> T:
    return None if v is None else v == want


def _months(born: date, on: date) -> int:
    return (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)


def _any_item(items: list[Any] | None, complete: T, pred: Callable[[Any], T]) -> T:
    if items is None:
        return None
    r = _or(*[pred(i) for i in items]) if items else False
    return r if r is True or complete is True else None


def plain_london(c: Case) -> tuple[int, int, list[str]]:
    on = c.assessment_date
    kids, kids_complete = c.children, (True if c.children == [] else c.children_complete)

    def younger_than(months: int) -> Callable[[Any], T]:
        def test(ch: Any) -> T:
            if ch.unborn:
                return True
            if ch.date_of_birth is not None:
                return _months(ch.date_of_birth, on) < months
            if ch.age_months is not None:
                return ch.age_months < months
            if ch.age_years is not None:
                return ch.age_years < months // 12
            return None
        return test

    under12, under7 = younger_than(12), younger_than(84)

    def tick(n: int) -> T:
        return None if c.matrix is None else any(t.scale == n for t in c.matrix)

    baby = _or(_is(c.victim.pregnant, True), _any_item(kids, kids_complete, under12))
    in_house = _any_item(kids, kids_complete, lambda ch: _is(ch.in_household, True))
    no_children_confirmed = in_house is False
    dv_known = _or(None if c.incidents is None else (len(c.incidents) >= 1 or None if not c.incidents_complete
                                                     else len(c.incidents) >= 1),
                   _is(c.concerns.domestic_abuse_known, True))
    specss = c.assessments.specss
    no_consent = _is(c.victim.consents_to_early_help, False)
    outcome_rules = [
        ("matrix-scale-1", 1, tick(1)), ("matrix-scale-2", 2, tick(2)),
        ("matrix-scale-3", 3, tick(3)), ("matrix-scale-4", 4, tick(4)),
        ("baby-under-12-months", 4, _and(baby, dv_known)),
        ("specss-standard", 1, _is(specss, "standard")), ("specss-medium", 2, _is(specss, "medium")),
        ("specss-high", 3, _is(specss, "high")),
        ("no-consent-raises-scale-1", 2, _and(no_consent, _or(tick(1), _is(specss, "standard")))),
        ("no-consent-raises-scale-2", 3, _and(no_consent, _or(tick(2), _is(specss, "medium")))),
    ]
    lo = hi = 0
    fired = []
    for rid, rank, t in outcome_rules:
        if t is True:
            lo, hi = max(lo, rank), max(hi, rank)
            fired.append(rid)
        elif t is None:
            hi = max(hi, rank)

    def at(*levels: int) -> T:
        return True if lo in levels else (None if any(r in levels for r in range(lo + 1, hi + 1)) else False)

    kids_ok = not no_children_confirmed
    v, ap = c.victim, c.abusive_partner
    other_rules = [
        ("child-under-7", _or(_is(v.pregnant, True), _any_item(kids, kids_complete, under7))),
        ("special-needs", _or(_is(v.special_needs, True),
                              _any_item(kids, kids_complete, lambda ch: _is(ch.special_needs, True)))),
        ("minority-community", _is(v.minority_community, True)),
        ("vulnerable-adult", _is(v.vulnerable_adult, True)),
        ("scale-1-actions", _and(at(1), kids_ok)), ("scale-2-actions", _and(at(2), kids_ok)),
        ("scale-3-actions", _and(at(3), kids_ok)), ("scale-4-actions", _and(at(4), kids_ok)),
        ("abuser-programme-scale-1-2", _and(at(1, 2), _is(ap.willing_to_join_programme, True))),
        ("scale-3-no-marac-abuser-follow-up", _and(at(3), _is(ap.willing_to_join_programme, True),
                                                    _is(c.assessments.marac_referred, False))),
        ("no-children-in-household", no_children_confirmed),
        ("no-children-marac", _and(no_children_confirmed, at(3, 4))),
        ("scale-4-emergency-safety-plan", _and(at(4), kids_ok)),
        ("remaining-with-abuser", _and(_is(v.staying_with_abuser, True), kids_ok)),
        ("remaining-at-scale-4", _and(at(4), _is(v.staying_with_abuser, True), kids_ok)),
        ("separation-scale-1-2", _and(at(1, 2), _is(v.separating, True), kids_ok)),
        ("separation-scale-3-4", _and(at(3, 4), _is(v.separating, True), kids_ok)),
        ("contact-assessment", _is(v.children_have_contact_with_abuser, True)),
        ("contact-risk-found", _is(v.contact_risk_found, True)),
        ("child-abuse-alongside", kids_ok),
        ("child-abuses-family", _or(_any_item(kids, kids_complete, lambda ch: _is(ch.abusing_family_members, True)),
                                    _is(c.concerns.child_to_parent_abuse, True))),
    ]
    fired += [rid for rid, t in other_rules if t is True]
    return lo, hi, fired


# ---------------------------------------------------------------------------------------------


def rate(fn: Callable[[], object], seconds: float) -> float:
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            fn()
        n += 50
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000, help="evaluations for the memory check")
    ap.add_argument("--seconds", type=float, default=3.0, help="time per throughput measurement")
    ap.add_argument("--quick", action="store_true", help="short run (n=5000, 1 s each)")
    args = ap.parse_args()
    if args.quick:
        args.n, args.seconds = 5000, 1.0
    pack = dv.load_pack("london")
    validated = [Case.model_validate(c) for c in CASES]

    # the two implementations must agree before their speed means anything
    for raw, case in zip(CASES, validated, strict=True):
        d = dv.evaluate(raw, pack)
        lo, hi, fired = plain_london(case)
        assert (d.outcome.rank, d.bounds.highest.rank) == (lo, hi), (raw, d.outcome.id, lo, hi)
        assert sorted(fired) == sorted([r.id for r in d.rules] + [f.id for f in d.factors]), raw

    i = 0

    def public() -> object:
        nonlocal i
        i += 1
        return dv.evaluate(CASES[i % len(CASES)], pack)

    def limit() -> object:
        nonlocal i
        i += 1
        return plain_london(validated[i % len(validated)])

    def durable() -> object:
        nonlocal i
        i += 1
        return dv.evaluate(CASES[i % len(CASES)], pack, engine="durable")

    public()
    durable()
    ev = rate(public, args.seconds)
    lim = rate(limit, args.seconds)
    dur = rate(durable, args.seconds)
    session = dv.AssessmentSession(pack, {"assessment_date": "2009-01-10"})
    flip = [False]

    def session_step() -> object:
        flip[0] = not flip[0]
        return session.set("victim.pregnant", flip[0])

    ses = rate(session_step, args.seconds)
    session.close()

    print(f"evaluate() (validation + cited decision), London : {ev:10,.0f} evaluations/s")
    print(f"plain Python predicates (the limit)              : {lim:10,.0f} evaluations/s")
    print(f"RATIO evaluate / limit                           : {ev / lim:10.3f}   (target >= 0.5)")
    print(f"evaluate(engine='durable'), one session per case : {dur:10,.0f} evaluations/s")
    print(f"assessment session, one fact per step (durable)  : {ses:10,.0f} steps/s")

    gc.collect()
    for _ in range(2000):
        public()
    gc.collect()
    tracemalloc.start()
    rss0, heap0 = rss_kib(), tracemalloc.get_traced_memory()[0]
    for _ in range(args.n):
        public()
    gc.collect()
    rss1, heap1 = rss_kib(), tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"memory over {args.n:,} evaluations: RSS {rss0:,} KiB -> {rss1:,} KiB "
          f"({rss1 - rss0:+,} KiB); traced heap {heap0 / 1024:,.0f} KiB -> {heap1 / 1024:,.0f} KiB "
          f"({(heap1 - heap0) / 1024:+,.0f} KiB)")


if __name__ == "__main__":
    main()
