"""``dvsafeguard lint``: check rule packs against their format, their references and their source.

For each pack file, lint reports every problem it finds (not just the first) as
``file:line:column: severity: field: message``, with a did-you-mean where one helps:

* **errors** (exit status 1) — the file is not safe YAML (aliases/anchors, over the size limit,
  malformed), a key is repeated in one mapping (YAML would silently keep only the last), the pack
  has the wrong shape or a semantic problem (unknown facts, levels, actions, notes, dimension
  values; duplicate ids — all from :func:`dvsafeguard.pack.semantic_problems`), an invariant id is
  repeated, a ladder level, the combination, a rule or an action cites no paragraph or no quote;
  and with ``--sources DIR``: the source document is missing or its sha256 differs from
  ``source.sha256``, a cited paragraph (or item) is not in the document, or a quote is not in it
  verbatim;
* **warnings** (exit status 0 when there is no error) — a rule that can never apply (contradictory
  tests in one ``all``, a count whose bounds cross, an outcome test for a level the pack never
  reaches), an outcome rule that is shadowed by another rule (whenever it applies a rule with an
  outcome at least as high applies too — at the same outcome only when it adds no action or
  dimension value of its own) or whose outcome is below the default, an invariant whose
  ``given`` can never hold, a note no rule reads, an action no rule requires, and a quote that is
  in the document but not under the paragraph cited.

The logic checks are *syntactic and sound*: a warning is only given when the condition's form
proves it (Kleene three-valued semantics included); they do not try to find every such rule.

How citations are checked against the source (``--sources``)
-----------------------------------------------------------
Text is compared after *whitespace normalisation only*: every run of whitespace (spaces, tabs,
line breaks, NBSP U+00A0 and the other Unicode spaces) becomes one space. Nothing else is
normalised — a curly apostrophe (’) in the source must be curly in the quote.

* **Quote**: the normalised quote must be a substring of the normalised document. When it is
  not, the message says whether only the quotation marks/apostrophes/dashes or only the
  capitalisation differ, or how many leading characters match and what the source has instead.
* **Paragraph** — the part of ``paragraph`` before the first ``", "`` is the paragraph as printed.

  - *Numbered* (it starts with a number token ``9.4.2``, ``2.4``, ``2.``, ``09``): some line of
    the document must start (after whitespace) with that number, followed by whitespace or the
    end of the line; a trailing dot is punctuation (``2`` matches a line ``2. PROCEDURE``), zero
    padding is not (``09`` does not match ``9``). If the number is followed by an item label
    (``9.4.2 c)``), a line starting with ``c)`` must occur within that paragraph's section. A
    section runs from the numbered line to the next line whose number comes later in the
    numbering and is not a sub-paragraph (``9.4.3``, ``9.5``, ``10``); numbers more than one
    above the paragraph's first component (footnote markers, page numbers, phone numbers) are
    ignored. If the quote occurs in the document but never within the cited section (or item),
    a warning names where it was found.
  - *Unnumbered* (Solihull: the heading as printed): some line of the document, trimmed, must
    equal the heading, or start with it followed by ``:``, ``.``, ``(`` or a dash. A heading
    that itself contains ``", "`` is found too: every prefix up to a ``", "`` is tried, longest
    first. The document does not mark its headings, so a heading's section runs to the next line
    that is a heading *cited somewhere in the pack* (or the end); a quote found only outside it
    is warned about, as for numbered paragraphs.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import difflib
import hashlib
import json
import math
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import yamlio
from .conditions import AllOf, AnyOf, Condition, CountTest, FactTest, NotOf, OutcomeTest
from .errors import InputError, Problem
from .pack import Citation, Pack, pack_files, pack_from_data, rules_dir

ERROR = "error"
WARNING = "warning"
Loc = tuple[str | int, ...]

__all__ = ["ERROR", "WARNING", "SourceText", "format_problem", "lint_pack_file", "lint_paths",
           "register", "run"]


# --------------------------------------------------------------------------------------------
# Collecting problems with their place in the file
# --------------------------------------------------------------------------------------------


class _Report:
    def __init__(self, file: str, positions: yamlio.Positions) -> None:
        self.file = file
        self.positions = positions
        self.problems: list[Problem] = []

    def add(self, loc: Loc, message: str, severity: str = ERROR) -> None:
        line, col = yamlio.locate(self.positions, loc)
        self.problems.append(Problem(message, yamlio.dotted(loc), self.file, line or 1, col or 1,
                                     severity))

    def extend(self, problems: Sequence[Problem]) -> None:
        self.problems.extend(_placed(problems, self.file))


def _placed(problems: Sequence[Problem], file: str) -> list[Problem]:
    """Every problem with a file, line and column (1, 1 when the whole file is meant)."""
    return [dataclasses.replace(p, file=p.file or file, line=p.line or 1, column=p.column or 1)
            for p in problems]


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file or "", p.line or 0, p.column or 0,
                                           p.severity != ERROR, p.message))


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def lint_pack_file(path: str | Path, sources_dir: str | Path | None = None) -> list[Problem]:
    """Every problem in one pack file, errors and warnings, sorted by place.

    With ``sources_dir`` the pack's source document is read from that directory and the sha256,
    every cited paragraph and every quote are checked against it.
    """
    name = str(path)
    try:
        data, positions, raw = yamlio.load(path, "pack")
    except InputError as e:
        return _sorted(_placed(e.problems, name))
    report = _Report(name, positions)
    try:
        pack = pack_from_data(data, name, positions, raw)
    except InputError as e:
        report.extend(e.problems)
        try:  # the shape may be right and only references wrong: keep checking what we can
            pack = Pack.model_validate(data)
        except ValidationError:
            return _sorted(report.problems)
    _check_ids(pack, report)
    _check_deadlines(pack, report)
    _check_citations_present(pack, report)
    _check_unreferenced(pack, report)
    _check_logic(pack, report)
    if sources_dir is not None:
        _check_source(pack, Path(sources_dir), report)
    return _sorted(report.problems)


def lint_paths(paths: Sequence[str | Path], sources_dir: str | Path | None = None
               ) -> tuple[list[Path], list[Problem]]:
    """Lint pack files and directories of packs; return the files linted and every problem."""
    files: list[Path] = []
    problems: list[Problem] = []
    for raw_path in paths:
        p = Path(raw_path)
        if p.is_dir():
            found = sorted(set(pack_files(p)) | {
                f for f in p.glob("*.yaml") if not f.name.endswith(".tests.yaml")})
            if not found:
                problems.append(Problem("no pack files (<board>/<version>.yaml) in this directory",
                                        file=str(p), line=1, column=1))
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            problems.append(Problem("no such file or directory", file=str(p), line=1, column=1))
    if sources_dir is not None and not Path(sources_dir).is_dir():
        problems.append(Problem("--sources is not a directory", file=str(sources_dir), line=1,
                                column=1))
        sources_dir = None
    claimed: dict[str, Path] = {}  # id@version → the first file that claims it
    for f in files:
        problems.extend(lint_pack_file(f, sources_dir))
        try:
            data, positions, _ = yamlio.load(f, "pack")
        except InputError:
            continue  # already reported
        if isinstance(data, dict) and isinstance(data.get("id"), str) and "version" in data:
            ref = f"{data['id']}@{data['version']}"
            first = claimed.setdefault(ref, f)
            if first != f:  # a copied pack not yet renamed: a reference would find only one of them
                line, col = yamlio.locate(positions, ("version",))
                problems.append(Problem(f"{ref} is also the pack in {first}; give this one its own "
                                        "version (or id)", "version", str(f), line, col))
    return files, problems


def format_problem(p: Problem) -> str:
    field = f" {p.field}:" if p.field else ""
    return f"{p.file}:{p.line}:{p.column}: {p.severity}:{field} {p.message}"


# --------------------------------------------------------------------------------------------
# File-level and reference checks
# --------------------------------------------------------------------------------------------


def _check_ids(pack: Pack, report: _Report) -> None:
    # ladder, rules, actions and notes are checked by semantic_problems
    seen: set[str] = set()
    for i, inv in enumerate(pack.invariants):
        if inv.id in seen:
            report.add(("invariants", i, "id"), f"duplicate id {inv.id!r}")
        seen.add(inv.id)


# derived facts that exclude one another by their definitions (derive.py): a child living in the
# household means there are not "no children in the household", confirmed or not
_EXCLUDES: dict[tuple[str, bool], list[tuple[str, bool]]] = {
    ("derived.children_in_household", True): [("derived.no_children_in_household", True),
                                              ("derived.no_children_confirmed", True)],
    ("derived.no_children_confirmed", True): [("derived.no_children_in_household", False)],
    ("derived.child_under_12_months", True): [("derived.child_under_7", False)],
}


def _check_deadlines(pack: Pack, report: _Report) -> None:
    """A deadline's number must be the one its words give ("within 24 hours" is not 48)."""
    for i, action in enumerate(pack.actions):
        d = action.deadline
        if d is None or d.amount is None:
            continue
        said = [int(n) for n in re.findall(r"\d+", d.text)]
        if said and d.amount not in said:
            report.add(("actions", i, "deadline", "amount"),
                       f"action {action.id!r}: deadline amount {d.amount} disagrees with its text "
                       f"{d.text!r}")


def _citations(pack: Pack) -> Iterator[tuple[Loc, Citation, str]]:
    for i, lv in enumerate(pack.ladder):
        yield ("ladder", i, "citation"), lv.citation, f"ladder level {lv.id!r}"
    yield ("combination", "citation"), pack.combination.citation, "the combination policy"
    for i, r in enumerate(pack.rules):
        yield ("rules", i, "citation"), r.citation, f"rule {r.id!r}"
    for i, a in enumerate(pack.actions):
        yield ("actions", i, "citation"), a.citation, f"action {a.id!r}"


def _check_citations_present(pack: Pack, report: _Report) -> None:
    for loc, cit, what in _citations(pack):
        if not cit.paragraph.strip():
            report.add(loc + ("paragraph",), f"{what} cites no paragraph")
        if not cit.quote.strip():
            report.add(loc + ("quote",), f"{what} quotes nothing from its paragraph")
    for i, note in enumerate(pack.notes):
        if not note.paragraph.strip():
            report.add(("notes", i, "paragraph"), f"note {note.id!r} names no paragraph")


def _check_unreferenced(pack: Pack, report: _Report) -> None:
    read = {r.reading for r in pack.rules if r.reading}
    for i, note in enumerate(pack.notes):
        if note.id not in read:
            report.add(("notes", i, "id"), f"note {note.id!r} is not the reading of any rule",
                       WARNING)
    used = {a for r in pack.rules for a in r.actions}
    for i, action in enumerate(pack.actions):
        if action.id not in used:
            report.add(("actions", i, "id"), f"action {action.id!r} is not required by any rule",
                       WARNING)


# --------------------------------------------------------------------------------------------
# Logic: rules that can never apply, rules shadowed by others (sound, syntactic)
# --------------------------------------------------------------------------------------------


def _key(v: Any) -> tuple[str, Any]:
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int | float):
        return ("num", float(v))
    return ("str", v)


@dataclasses.dataclass
class _Region:
    """The values for which every one of some tests of one fact can be true."""

    points: set[tuple[str, Any]] | None = None  # None: not restricted to listed values
    lo: float = -math.inf
    lo_open: bool = False
    hi: float = math.inf
    hi_open: bool = False
    numeric: bool = False  # a comparison restricts the value to a number

    def add(self, test: FactTest) -> bool:
        try:
            op, bound = test.op()
        except ValueError:
            return False
        if op in ("is", "in"):
            pts = {_key(bound)} if op == "is" else {_key(v) for v in bound}
            self.points = pts if self.points is None else self.points & pts
        else:
            self.numeric = True
            b = float(bound)
            if op in ("gt", "gte") and (b > self.lo or (b == self.lo and op == "gt")):
                self.lo, self.lo_open = b, op == "gt"
            if op in ("lt", "lte") and (b < self.hi or (b == self.hi and op == "lt")):
                self.hi, self.hi_open = b, op == "lt"
        return True

    def _in_interval(self, x: float) -> bool:
        return ((x > self.lo or (x == self.lo and not self.lo_open))
                and (x < self.hi or (x == self.hi and not self.hi_open)))

    def live_points(self) -> set[tuple[str, Any]] | None:
        if self.points is None:
            return None
        if not self.numeric:
            return self.points
        return {p for p in self.points if p[0] == "num" and self._in_interval(p[1])}

    def empty(self) -> bool:
        if self.lo > self.hi or (self.lo == self.hi and (self.lo_open or self.hi_open)):
            return True
        pts = self.live_points()
        return pts is not None and not pts

    def within(self, other: _Region) -> bool:
        """Every value in this region is in ``other`` (only claimed when sure)."""
        if self.empty():
            return True
        mine = self.live_points()
        if other.points is not None:
            # a number may be an interval, which "is"/"in" treat differently: claim only for
            # yes/no and named values
            if mine is None or any(p[0] == "num" for p in other.points | mine):
                return False
            if not mine <= other.points:
                return False
        if other.numeric:
            if mine is not None:
                return all(p[0] == "num" and other._in_interval(p[1]) for p in mine)
            lo_ok = self.lo > other.lo or (
                self.lo == other.lo and (self.lo_open or not other.lo_open))
            hi_ok = self.hi < other.hi or (
                self.hi == other.hi and (self.hi_open or not other.hi_open))
            return lo_ok and hi_ok
        return True


def _describe(c: Condition) -> str:
    return json.dumps(c.model_dump(by_alias=True, exclude_none=True), default=str)


def _conjuncts(cond: Condition) -> list[Condition]:
    if isinstance(cond, AllOf):
        return [x for c in cond.all for x in _conjuncts(c)]
    return [cond]


class _Logic:
    def __init__(self, pack: Pack) -> None:
        self.ranks = {lv.id: i for i, lv in enumerate(pack.ladder)}
        self.levels = [lv.id for lv in pack.ladder]
        self.reachable: set[int] | None = None  # outcome ranks the pack can decide

    def allowed(self, test: OutcomeTest) -> set[int] | None:
        b = test.outcome
        names = [n for n in (b.at_least, b.at_most, *(b.in_ or [])) if n is not None]
        if any(n not in self.ranks for n in names):
            return None  # an unknown level: already an error
        lo = self.ranks[b.at_least] if b.at_least else 0
        hi = self.ranks[b.at_most] if b.at_most else len(self.levels) - 1
        ok = set(range(lo, hi + 1))
        return ok & {self.ranks[n] for n in b.in_} if b.in_ else ok

    def _names(self, ranks: set[int]) -> str:
        return ", ".join(self.levels[r] for r in sorted(ranks)) or "none"

    # ---- can a condition ever be true? --------------------------------------------------
    def never(self, cond: Condition) -> str | None:
        """Why ``cond`` can never be true, or None when it may be."""
        if isinstance(cond, AnyOf):
            reasons = [self.never(c) for c in cond.any]
            if all(reasons):
                return "no alternative of its 'any' can be true: " + "; ".join(
                    r for r in reasons if r)
            return None
        if isinstance(cond, NotOf | FactTest):
            return None
        if isinstance(cond, CountTest):
            return self._never_count(cond)
        if isinstance(cond, OutcomeTest):
            return self._never_outcome([cond])
        parts = _conjuncts(cond)
        for c in parts:
            reason = self.never(c)
            if reason:
                return reason
        return (self._contradicting_facts(parts) or self._contradicting_counts(parts)
                or self._never_outcome([c for c in parts if isinstance(c, OutcomeTest)])
                or self._contradicting_not(parts))

    def _never_count(self, c: CountTest) -> str | None:
        if c.at_least is not None and c.at_most is not None and c.at_least > c.at_most:
            return f"count of {c.count} needs at least {c.at_least} and at most {c.at_most}"
        if c.where is not None and (c.at_least or 0) >= 1:
            reason = self.never(c.where)
            if reason:
                return f"no item of {c.count} can match its 'where' ({reason})"
        return None

    def _never_outcome(self, tests: list[OutcomeTest]) -> str | None:
        if not tests:
            return None
        ok = set(range(len(self.levels)))
        for t in tests:
            allowed = self.allowed(t)
            if allowed is None:
                return None
            ok &= allowed
        if not ok:
            return "its outcome tests allow no level"
        if self.reachable is not None and not ok & self.reachable:
            return (f"it tests for outcome {self._names(ok)}, which the pack never decides "
                    f"(reachable: {self._names(self.reachable)})")
        return None

    @staticmethod
    def _contradicting_facts(parts: list[Condition]) -> str | None:
        by_fact: dict[str, list[FactTest]] = {}
        for c in parts:
            if isinstance(c, FactTest):
                by_fact.setdefault(c.fact, []).append(c)
        for fact, tests in by_fact.items():
            region = _Region()
            for t in tests:
                region.add(t)
                if region.empty():
                    return (f"{fact} cannot pass all of "
                            + " and ".join(_describe(x) for x in tests[: tests.index(t) + 1]))
        said = {(t.fact, t.is_) for ts in by_fact.values() for t in ts if isinstance(t.is_, bool)}
        for (fact, value), excluded in _EXCLUDES.items():
            if (fact, value) in said:
                for other in excluded:
                    if other in said:
                        return (f"{fact} is {str(value).lower()} and {other[0]} is "
                                f"{str(other[1]).lower()} cannot both hold")
        return None

    @staticmethod
    def _contradicting_counts(parts: list[Condition]) -> str | None:
        groups: dict[str, list[CountTest]] = {}
        for c in parts:
            if isinstance(c, CountTest):
                key = _describe(c.model_copy(update={"at_least": None, "at_most": None}))
                groups.setdefault(key, []).append(c)
        for tests in groups.values():
            lows = [t.at_least for t in tests if t.at_least is not None]
            highs = [t.at_most for t in tests if t.at_most is not None]
            if lows and highs and max(lows) > min(highs):
                return (f"it needs at least {max(lows)} and at most {min(highs)} of the same "
                        f"{tests[0].count}")
        return None

    @staticmethod
    def _contradicting_not(parts: list[Condition]) -> str | None:
        for c in parts:
            if isinstance(c, NotOf) and any(d == c.not_ for d in parts):
                return f"it requires both {_describe(c.not_)} and its negation"
        return None

    # ---- does one condition imply another? ----------------------------------------------
    def implies(self, a: Condition, b: Condition) -> bool:
        """True only when ``a`` being true guarantees ``b`` is true (three-valued)."""
        if a == b:
            return True
        if isinstance(b, AllOf):
            return all(self.implies(a, x) for x in b.all)
        if isinstance(a, AnyOf):
            return all(self.implies(x, b) for x in a.any)
        if isinstance(a, AllOf) and any(self.implies(x, b) for x in a.all):
            return True
        if isinstance(b, AnyOf):
            return any(self.implies(a, x) for x in b.any)
        return self._leaf_implies(a, b)

    def _leaf_implies(self, a: Condition, b: Condition) -> bool:
        if isinstance(a, FactTest) and isinstance(b, FactTest) and a.fact == b.fact:
            ra, rb = _Region(), _Region()
            return ra.add(a) and rb.add(b) and ra.within(rb)
        if isinstance(a, CountTest) and isinstance(b, CountTest) and a.count == b.count:
            if b.at_most is None:  # b only needs enough items: a narrower match is enough
                where_ok = b.where is None or (
                    a.where is not None and self.implies(a.where, b.where))
                window_ok = b.within_months is None or (
                    a.within_months is not None and a.within_months <= b.within_months)
                return (where_ok and window_ok and a.at_least is not None
                        and (b.at_least or 0) <= a.at_least)
            if a.where == b.where and a.within_months == b.within_months:
                low_ok = b.at_least is None or (a.at_least is not None and a.at_least >= b.at_least)
                return low_ok and a.at_most is not None and a.at_most <= b.at_most
            return False
        if isinstance(a, OutcomeTest) and isinstance(b, OutcomeTest):
            oa, ob = self.allowed(a), self.allowed(b)
            return oa is not None and ob is not None and oa <= ob
        return False


def _check_logic(pack: Pack, report: _Report) -> None:
    logic = _Logic(pack)
    never: dict[int, str] = {}
    for i, rule in enumerate(pack.rules):
        if rule.outcome is not None:
            reason = logic.never(rule.when)
            if reason:
                never[i] = reason
    default = logic.ranks.get(pack.default_outcome)
    reachable = set() if default is None else {default}
    for i, rule in enumerate(pack.rules):
        r = logic.ranks.get(rule.outcome or "")
        if r is not None and i not in never and (default is None or r >= default):
            reachable.add(r)
    logic.reachable = reachable
    for i, rule in enumerate(pack.rules):
        if rule.outcome is None:
            reason = logic.never(rule.when)
            if reason:
                never[i] = reason
    for i, reason in sorted(never.items()):
        report.add(("rules", i, "when"), f"rule {pack.rules[i].id!r} can never apply: {reason}",
                   WARNING)

    live = [(i, rule, logic.ranks[rule.outcome]) for i, rule in enumerate(pack.rules)
            if rule.outcome in logic.ranks and i not in never]
    for i, a, ra in live:
        if default is not None and ra < default:
            report.add(("rules", i, "outcome"),
                       f"rule {a.id!r} gives {a.outcome!r}, below the default outcome "
                       f"{pack.default_outcome!r}, so it never changes the outcome", WARNING)
            continue
        for j, b, rb in live:
            if i == j or ra > rb or not logic.implies(a.when, b.when):
                continue
            if ra == rb and (j > i and logic.implies(b.when, a.when)
                             or not set(a.actions) <= set(b.actions)
                             or not a.sets.items() <= b.sets.items()):
                # the same condition twice: report the later one only; and a rule that gives
                # the same outcome but its own actions or dimension values is a second,
                # separately cited trigger, not a redundant one
                continue
            report.add(("rules", i, "outcome"),
                       f"rule {a.id!r} is shadowed by rule {b.id!r}: whenever it applies, "
                       f"{b.id!r} applies too and gives {b.outcome!r}, so {a.id!r} never "
                       f"changes the outcome", WARNING)
            break
    for i, inv in enumerate(pack.invariants):
        reason = logic.never(inv.given)
        if reason:
            report.add(("invariants", i, "given"),
                       f"invariant {inv.id!r} can never be tested: {reason}", WARNING)


# --------------------------------------------------------------------------------------------
# The source document: sha256, paragraphs, quotes
# --------------------------------------------------------------------------------------------

_DOC_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)*)\.?(?=\s|$)")
_CITED_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?(?=\s|$|[,(])")
_ITEM_LABEL = re.compile(r"^\(?(?:[a-z]{1,4}|\d{1,2})\)$")
_ANY_ITEM = re.compile(r"^\s*\(?[a-z]{1,4}\)(?=\s|$)")
_TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-",
                              "‐": "-", "‑": "-"})


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _number_tuple(number: str) -> tuple[int, ...]:
    return tuple(int(x) for x in number.split("."))


class SourceText:
    """A source document prepared for citation checks (see the module docstring)."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.norm_lines = [_normalise(line) for line in self.lines]
        offsets: list[int] = []
        owners: list[int] = []
        parts: list[str] = []
        pos = 0
        for i, n in enumerate(self.norm_lines):
            if not n:
                continue
            if parts:
                pos += 1
            offsets.append(pos)
            owners.append(i)
            parts.append(n)
            pos += len(n)
        self.flat = " ".join(parts)
        self._offsets = offsets
        self._owners = owners
        self.numbers: list[tuple[int, str]] = []
        for i, line in enumerate(self.lines):
            m = _DOC_NUMBER.match(line)
            if m:
                self.numbers.append((i, m.group(1)))

    # ---- quotes -------------------------------------------------------------------------
    def find(self, quote: str) -> list[int]:
        """0-based line of every occurrence of the normalised quote."""
        q = _normalise(quote)
        out: list[int] = []
        start = self.flat.find(q) if q else -1
        while start >= 0:
            out.append(self._owners[bisect.bisect_right(self._offsets, start) - 1])
            start = self.flat.find(q, start + 1)
        return out

    def quote_hint(self, quote: str) -> str:
        """Why a quote is not found: the nearest thing the source does say."""
        q = _normalise(quote)
        plain = self.flat.translate(_TYPOGRAPHIC)
        at = plain.find(q.translate(_TYPOGRAPHIC))
        if at >= 0:
            return (f"; only quotation marks, apostrophes or dashes differ — the source prints "
                    f"{self.flat[at:at + len(q)]!r}")
        lowered = self.flat.lower()
        if len(lowered) == len(self.flat):
            at = lowered.find(q.lower())
            if at >= 0:
                return ("; only capitalisation differs — the source prints "
                        f"{self.flat[at:at + len(q)]!r}")
        lo, hi = 0, len(q)  # longest prefix of the quote that the source contains
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if q[:mid] in self.flat:
                lo = mid
            else:
                hi = mid - 1
        if lo >= 12:
            at = self.flat.find(q[:lo])
            return (f"; the first {lo} characters match (source line {self.find(q[:lo])[0] + 1}), "
                    f"then the quote has {q[lo:lo + 30]!r} where the source has "
                    f"{self.flat[at + lo:at + lo + 30]!r}")
        return ""

    # ---- numbered paragraphs ------------------------------------------------------------
    def sections(self, number: str) -> list[tuple[int, int]]:
        """(first line, end line) of every section printed with ``number``."""
        p = _number_tuple(number)
        out = []
        for k, (line, n) in enumerate(self.numbers):
            if n != number:
                continue
            end = len(self.lines)
            for line2, n2 in self.numbers[k + 1:]:
                q = _number_tuple(n2)
                if q > p and q[: len(p)] != p and q[0] <= p[0] + 1:
                    end = line2
                    break
            out.append((line, end))
        return out

    def item(self, section: tuple[int, int], label: str) -> tuple[int, int] | None:
        """(first line, end line) of the item labelled ``label`` (e.g. ``c)``) in a section."""
        start, end = section
        pattern = re.compile(r"^\s*" + re.escape(label) + r"(?=\s|$)")
        for i in range(start, end):
            if pattern.match(self.lines[i]):
                for j in range(i + 1, end):
                    if _ANY_ITEM.match(self.lines[j]):
                        return i, j
                return i, end
        return None

    def nearest_number(self, line: int) -> str | None:
        best = None
        for n_line, n in self.numbers:
            if n_line > line:
                break
            best = n
        return best

    # ---- headings -----------------------------------------------------------------------
    def heading_lines(self, heading: str) -> list[int]:
        h = _normalise(heading)
        out = []
        for i, line in enumerate(self.norm_lines):
            text = line.lstrip("#").strip()
            if text == h:
                out.append(i)
            elif text.startswith(h):
                rest = text[len(h):]
                if rest[:1] in (":", ".", "(") or rest[:2] in (" –", " -", " —", " (", " :"):
                    out.append(i)
        return out

    def heading_match(self, paragraph: str) -> list[int]:
        """Lines of the heading a citation starts with (``"Heading, paragraph 2"``): the longest
        prefix, up to a ``", "``, that is a heading of the document."""
        parts = paragraph.split(", ")
        for k in range(len(parts), 0, -1):
            lines = self.heading_lines(", ".join(parts[:k]))
            if lines:
                return lines
        return []

    def suggest_heading(self, heading: str) -> str:
        lines = {n.lstrip("#").strip() for n in self.norm_lines if 0 < len(n) <= 150}
        close = difflib.get_close_matches(_normalise(heading), sorted(lines), n=1, cutoff=0.75)
        return f"; did you mean {close[0]!r}?" if close else ""

    def suggest_number(self, number: str) -> str:
        known = sorted({n for _, n in self.numbers})
        close = difflib.get_close_matches(number, known, n=1, cutoff=0.6)
        return f"; did you mean {close[0]!r}?" if close else ""


def _check_source(pack: Pack, sources: Path, report: _Report) -> None:
    doc = pack.source.document
    if Path(doc).name != doc or doc in ("", ".", ".."):
        report.add(("source", "document"), f"source.document must be a file name in the sources "
                   f"directory, not a path: {doc!r}")
        return
    path = sources / doc
    try:
        raw = path.read_bytes()
    except OSError as e:
        known = sorted(p.name for p in sources.glob("*.txt"))
        close = difflib.get_close_matches(doc, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        report.add(("source", "document"), f"source document {doc!r} cannot be read in {sources}: "
                   f"{e.strerror}{hint}")
        return
    actual = hashlib.sha256(raw).hexdigest()
    if actual != pack.source.sha256:
        report.add(("source", "sha256"), f"sha256 of {doc} is {actual}, not {pack.source.sha256}: "
                   "the source text has changed or the pack names another version")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        report.add(("source", "document"),
                   f"{doc} is not UTF-8 text ({e.reason} at byte {e.start})")
        return
    src = SourceText(text)
    paragraphs = [c.paragraph for _, c, _ in _citations(pack)] + [n.paragraph for n in pack.notes]
    headings = sorted({line for p in paragraphs if not _CITED_NUMBER.match(p.strip())
                       for line in src.heading_match(p.strip())})
    for loc, cit, what in _citations(pack):
        _check_citation(src, doc, loc, cit.paragraph, cit.quote, what, report, headings)
    for i, note in enumerate(pack.notes):
        _check_citation(src, doc, ("notes", i), note.paragraph, None, f"note {note.id!r}", report,
                        headings)


def _check_citation(src: SourceText, doc: str, loc: Loc, paragraph: str, quote: str | None,
                    what: str, report: _Report, headings: Sequence[int] = ()) -> None:
    """Check one citation; ``loc`` is the citation mapping (or the note) in the pack.

    ``headings``: the lines of every heading the pack cites, in order; a heading's section ends
    at the next of them.
    """
    where: list[tuple[int, int]] | None = None  # spans the quote must fall in; None = not checked
    place = ""  # the paragraph (and item) those spans are
    shown = paragraph.strip()
    m = _CITED_NUMBER.match(shown)
    if m:
        number = m.group(1)
        sections = src.sections(number)
        head = shown.split(", ", 1)[0]
        label = head[m.end():].strip()
        if not sections:
            report.add(loc + ("paragraph",), f"{what}: paragraph {number!r} is not printed at the "
                       f"start of any line of {doc}{src.suggest_number(number)}")
        elif _ITEM_LABEL.match(label):
            items = [span for s in sections if (span := src.item(s, label)) is not None]
            if not items:
                report.add(loc + ("paragraph",), f"{what}: paragraph {number} of {doc} has no item "
                           f"{label!r}")
            where, place = items or None, f"{number} {label}"
        else:
            where, place = sections, number
    elif shown:
        lines = src.heading_match(shown)
        if not lines:
            head = shown.split(", ")[0]
            report.add(loc + ("paragraph",), f"{what}: heading {head!r} is not a line of "
                       f"{doc}{src.suggest_heading(head)}")
        else:
            where = [(line, next((b for b in headings if b > line), len(src.lines)))
                     for line in lines]
            place = repr(src.norm_lines[lines[0]])
    if quote is None or not quote.strip():
        return
    found = src.find(quote)
    if not found:
        report.add(loc + ("quote",), f"{what}: quote not found verbatim in {doc} (after collapsing "
                   f"whitespace){src.quote_hint(quote)}")
        return
    if where is not None and not any(a <= line < b for line in found for a, b in where):
        under = src.nearest_number(found[0])
        # the quote exists but the citation points elsewhere: a reader following it would not
        # find the text the rule rests on
        report.add(loc + ("quote",), f"{what}: quote is in {doc} (line {found[0] + 1}"
                   f"{f', under {under}' if under else ''}) but not under {place}")


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def register(sub: Any) -> None:
    p = sub.add_parser(
        "lint",
        help="check rule packs: shape, references, logic, and citations against the sources",
        description="Check rule packs. PATHS are pack files or directories of packs (default: the "
                    "bundled rules). Errors exit with status 1; warnings alone exit 0.",
    )
    p.add_argument("paths", nargs="*", metavar="PATHS")
    p.add_argument("--sources", metavar="DIR",
                   help="directory of source texts: check each pack's source sha256, cited "
                        "paragraphs and quotes")
    p.add_argument("--json", action="store_true", help="print the problems as a JSON list")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    paths = args.paths or [rules_dir()]
    files, problems = lint_paths(paths, args.sources)
    errors = sum(p.severity == ERROR for p in problems)
    if args.json:
        print(json.dumps([{"file": p.file, "line": p.line, "column": p.column,
                           "severity": p.severity, "field": p.field, "message": p.message}
                          for p in problems], indent=2, ensure_ascii=False))
    else:
        for p in problems:
            print(format_problem(p))
        warnings = len(problems) - errors
        checked = "" if args.sources else "; sources not checked (use --sources DIR)"
        print(f"{len(files)} pack file{'s' * (len(files) != 1)}: {errors} error"
              f"{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}{checked}",
              file=sys.stderr)
    return 1 if errors else 0
