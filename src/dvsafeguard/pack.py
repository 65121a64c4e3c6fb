"""Rule packs: one board's procedure version as cited, declarative rules.

A pack is a YAML file ``rules/<board>/<version>.yaml`` validated by the models below. Every rule,
action, outcome level and the combination policy carries a citation ``{paragraph, quote}`` of the
source document; ambiguities and the readings chosen are recorded as ``notes`` and referenced by
the rules that apply them, so a decision can show them.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from . import yamlio
from .conditions import AllOf, AnyOf, Condition, CountTest, FactTest, NotOf, OutcomeTest, walk
from .derive import DERIVED, FactInfo, case_facts, item_facts
from .errors import InputError, PackNotFound, Problem

DIMENSIONS: dict[str, tuple[str, ...]] = {
    "csc_referral": ("not_required", "consider", "required"),
    "marac": ("not_indicated", "consider", "required"),
    "early_help": ("not_indicated", "consider", "required"),
}
"""Shared outcome dimensions, lowest first, so one case can be compared across boards."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Citation(_Model):
    """Where in the source document a rule comes from, with the words it implements."""

    paragraph: str = Field(min_length=1, description="The paragraph as the document prints it, e.g. '9.4.2 c)'.")
    quote: str = Field(min_length=1, description="A short verbatim quote from that paragraph.")


class Source(_Model):
    document: str = Field(description="File name of the source text.")
    title: str
    published: str = Field(description="The date the text gives, as printed.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the source text file.")


class InForce(_Model):
    from_: date = Field(alias="from")
    to: date | None = None

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> InForce:
        if self.to is not None and self.to < self.from_:
            raise ValueError(f"in force to {self.to}, before it is in force from {self.from_}")
        return self


class Level(_Model):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str
    citation: Citation


class Combination(_Model):
    policy: Literal["highest"] = Field(description="How several matching rules combine: the highest outcome wins.")
    citation: Citation


class Deadline(_Model):
    kind: Literal["immediately", "within_hours", "within_working_days", "at_next"]
    amount: int | None = Field(default=None, ge=1)
    text: str = Field(description="The deadline in the document's words.")


class Action(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    text: str
    kind: Literal["must", "should", "consider", "must_not"]
    who: str | None = None
    deadline: Deadline | None = None
    in_writing: bool = False
    citation: Citation


class Rule(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str
    citation: Citation
    when: Condition
    outcome: str | None = Field(default=None, description="Ladder level this rule raises the outcome to.")
    sets: dict[str, str] = Field(default_factory=dict, description="Shared dimension values this rule raises.")
    actions: list[str] = Field(default_factory=list)
    reading: str | None = Field(default=None, description="Id of the note recording the reading applied.")
    factor: bool = Field(default=False, description="Recorded as a factor considered; changes nothing.")


class Note(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    paragraph: str
    text: str


class Invariant(_Model):
    """A belief about the pack checked by property tests: given these facts, the outcome bound holds."""

    id: str
    description: str
    given: Condition
    outcome_at_least: str | None = None
    outcome_at_most: str | None = None


class Pack(_Model):
    schema_: str | None = Field(default=None, alias="$schema")
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    board: str
    title: str
    version: str
    in_force: InForce
    source: Source
    ladder: list[Level] = Field(min_length=1, description="Outcome levels, lowest first.")
    default_outcome: str = Field(description="The outcome when no outcome rule applies.")
    combination: Combination
    dimensions: list[str] = Field(default_factory=list)
    risk_facts: list[str] = Field(
        default_factory=list,
        description="Facts whose becoming true can only raise the outcome (checked by property tests).",
    )
    rules: list[Rule] = Field(min_length=1)
    actions: list[Action] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    invariants: list[Invariant] = Field(default_factory=list)

    _sha256: str = PrivateAttr(default="")
    _path: str | None = PrivateAttr(default=None)
    _compiled: Any = PrivateAttr(default=None)

    @field_validator("dimensions")
    @classmethod
    def _known_dimensions(cls, v: list[str]) -> list[str]:
        for d in v:
            if d not in DIMENSIONS:
                raise ValueError(f"unknown dimension {d!r}; known: {', '.join(DIMENSIONS)}")
        return v

    # ---- conveniences -------------------------------------------------------------------
    @property
    def sha256(self) -> str:
        return self._sha256

    @property
    def path(self) -> str | None:
        return self._path

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def rank(self, level: str) -> int:
        return self.level_ids.index(level)

    @property
    def level_ids(self) -> list[str]:
        return [lv.id for lv in self.ladder]

    def level(self, level_id: str) -> Level:
        return self.ladder[self.rank(level_id)]

    def action(self, action_id: str) -> Action:
        return next(a for a in self.actions if a.id == action_id)

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)

    def note(self, note_id: str) -> Note:
        return next(n for n in self.notes if n.id == note_id)


# --------------------------------------------------------------------------------------------
# Semantic checks beyond the shape: references, facts, values.
# --------------------------------------------------------------------------------------------


def _yaml(v: Any) -> str:
    """A value as it is written in a pack: true / false, 'text', 3."""
    return ("true" if v else "false") if isinstance(v, bool) else repr(v)


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_condition(cond: Condition, loc: tuple[str | int, ...], pack: Pack,
                     facts: dict[str, FactInfo], out: list[tuple[tuple[str | int, ...], str]],
                     *, allow_outcome: bool) -> None:
    if isinstance(cond, AllOf):
        for i, c in enumerate(cond.all):
            _check_condition(c, loc + ("all", i), pack, facts, out, allow_outcome=allow_outcome)
    elif isinstance(cond, AnyOf):
        for i, c in enumerate(cond.any):
            _check_condition(c, loc + ("any", i), pack, facts, out, allow_outcome=allow_outcome)
    elif isinstance(cond, NotOf):
        _check_condition(cond.not_, loc + ("not",), pack, facts, out, allow_outcome=allow_outcome)
    elif isinstance(cond, FactTest):
        info = facts.get(cond.fact)
        if info is None:
            out.append((loc + ("fact",), f"unknown fact {cond.fact!r}{_suggest(cond.fact, list(facts))}"))
            return
        try:
            op, bound = cond.op()
        except ValueError as e:
            out.append((loc, str(e)))
            return
        if op in ("lt", "lte", "gt", "gte"):
            if info.kind not in ("number", "count"):
                out.append((loc + (op,), f"{cond.fact} is a {info.kind} fact; {op} needs a number"))
        else:
            values = bound if op == "in" else [bound]
            if info.kind in ("bool", "enum"):
                for v in values:
                    if v not in info.values or (isinstance(v, bool) != isinstance(info.values[0], bool)):
                        out.append((loc + (op,), f"{_yaml(v)} is not a value of {cond.fact}; "
                                    f"values: {', '.join(map(_yaml, info.values))}"))
            elif info.kind in ("text", "date"):
                out.append((loc + (op,), f"{cond.fact} is a {info.kind} fact and cannot be tested"))
    elif isinstance(cond, CountTest):
        if cond.at_least is None and cond.at_most is None and loc[-1:] != ("__derived__",):
            out.append((loc, "a count needs at_least or at_most"))
        if cond.within_months is not None and cond.count != "incidents":
            out.append((loc + ("within_months",), "within_months applies to dated lists (incidents) only"))
        if cond.where is not None:
            _check_condition(cond.where, loc + ("where",), pack, item_facts(cond.count), out,
                             allow_outcome=False)
    elif isinstance(cond, OutcomeTest):
        if not allow_outcome:
            out.append((loc, "an outcome test is only allowed in rules that do not set the outcome"))
        b = cond.outcome
        for key, ids in (("at_least", [b.at_least]), ("at_most", [b.at_most]), ("in", b.in_ or [])):
            for lv in ids:
                if lv is not None and lv not in pack.level_ids:
                    out.append((loc + ("outcome", key), f"unknown outcome level {lv!r}"
                                f"{_suggest(lv, pack.level_ids)}"))


def semantic_problems(pack: Pack) -> list[tuple[tuple[str | int, ...], str]]:
    """Every reference and fact problem in a pack that has the right shape."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    facts = case_facts()
    for name, items in (("ladder", [lv.id for lv in pack.ladder]), ("rules", [r.id for r in pack.rules]),
                        ("actions", [a.id for a in pack.actions]), ("notes", [n.id for n in pack.notes])):
        seen: set[str] = set()
        for i, ident in enumerate(items):
            if ident in seen:
                out.append(((name, i, "id"), f"duplicate id {ident!r}"))
            seen.add(ident)
    if pack.default_outcome not in pack.level_ids:
        out.append((("default_outcome",), f"unknown outcome level {pack.default_outcome!r}"
                    f"{_suggest(pack.default_outcome, pack.level_ids)}"))
    action_ids = [a.id for a in pack.actions]
    note_ids = [n.id for n in pack.notes]
    for i, rule in enumerate(pack.rules):
        loc: tuple[str | int, ...] = ("rules", i)
        if rule.outcome is not None and rule.outcome not in pack.level_ids:
            out.append((loc + ("outcome",), f"unknown outcome level {rule.outcome!r}"
                        f"{_suggest(rule.outcome, pack.level_ids)}"))
        for dim, value in rule.sets.items():
            if dim not in pack.dimensions:
                out.append((loc + ("sets", dim), f"dimension {dim!r} is not declared in the pack's dimensions"))
            elif value not in DIMENSIONS[dim]:
                out.append((loc + ("sets", dim), f"{value!r} is not a value of {dim}; values: "
                            f"{', '.join(DIMENSIONS[dim])}"))
        for j, a in enumerate(rule.actions):
            if a not in action_ids:
                out.append((loc + ("actions", j), f"unknown action {a!r}{_suggest(a, action_ids)}"))
        if rule.reading is not None and rule.reading not in note_ids:
            out.append((loc + ("reading",), f"unknown note {rule.reading!r}{_suggest(rule.reading, note_ids)}"))
        if rule.outcome is None and not rule.sets and not rule.actions and not rule.factor:
            out.append((loc, "rule has no effect: give it an outcome, sets, actions, or factor: true"))
        _check_condition(rule.when, loc + ("when",), pack, facts, out, allow_outcome=rule.outcome is None)
        if rule.outcome is not None:
            for node in walk(rule.when):
                if isinstance(node, FactTest) and node.fact in DERIVED and DERIVED[node.fact].kind == "confirmed":
                    out.append((loc + ("when",), f"{node.fact} says what has been confirmed, never 'unknown'; "
                                "it may not set the outcome (the outcome's bounds would not hold once "
                                "unknowns resolve)"))
    for i, fact in enumerate(pack.risk_facts):
        if fact not in facts:
            out.append((("risk_facts", i), f"unknown fact {fact!r}{_suggest(fact, list(facts))}"))
        elif facts[fact].kind != "bool":
            out.append((("risk_facts", i), f"{fact} is not a yes/no fact"))
    for i, inv in enumerate(pack.invariants):
        _check_condition(inv.given, ("invariants", i, "given"), pack, facts, out, allow_outcome=False)
        for key in ("outcome_at_least", "outcome_at_most"):
            lv = getattr(inv, key)
            if lv is not None and lv not in pack.level_ids:
                out.append((("invariants", i, key), f"unknown outcome level {lv!r}"))
    return out


def facts_used(cond: Condition) -> list[str]:
    """Top-level fact paths and counted lists a condition reads, in order of appearance."""
    seen: dict[str, None] = {}
    for node in walk(cond):
        if isinstance(node, FactTest):
            seen.setdefault(node.fact, None)
        elif isinstance(node, CountTest):
            seen.setdefault(node.count, None)
    return list(seen)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _problems_from_validation(err: ValidationError, name: str, positions: yamlio.Positions) -> list[Problem]:
    problems = []
    for e in err.errors():
        # pydantic names the union member it tried (e.g. 'fact'); drop such tags when the
        # YAML has no key of that name at that place, so the path is the one the author wrote.
        clean: list[str | int] = []
        for part in e["loc"]:
            if (isinstance(part, str) and part in _TAGS and positions
                    and part not in _keys_at(positions, clean)):
                continue
            clean.append(part)
        line, col = yamlio.locate(positions, tuple(clean))
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown field (not allowed here)"
        elif e["type"] == "value_error" and isinstance((e.get("ctx") or {}).get("error"), ValueError):
            msg = str(e["ctx"]["error"])  # our own check: its words, without pydantic's prefix
        problems.append(Problem(msg, yamlio.dotted(tuple(clean)), name, line, col))
    return problems


_TAGS = ("all", "any", "not", "fact", "count", "outcome")


def _keys_at(positions: yamlio.Positions, loc: list[str | int]) -> set[str | int]:
    n = len(loc)
    return {k[n] for k in positions if len(k) == n + 1 and list(k[:n]) == loc}


def pack_from_data(data: Any, name: str = "<pack>", positions: yamlio.Positions | None = None,
                   raw: bytes | None = None) -> Pack:
    """Validate pack data (as parsed from YAML); raise :class:`InputError` naming every problem."""
    positions = positions or {}
    if not isinstance(data, dict):
        raise InputError("pack", [Problem("a pack must be a YAML mapping", file=name)])
    try:
        pack = Pack.model_validate(data)
    except ValidationError as e:
        raise InputError("pack", _problems_from_validation(e, name, positions)) from None
    problems = []
    for loc, msg in semantic_problems(pack):
        line, col = yamlio.locate(positions, loc)
        problems.append(Problem(msg, yamlio.dotted(loc), name, line, col))
    if problems:
        raise InputError("pack", problems)
    if raw is None:
        raw = json.dumps(data, sort_keys=True, default=str).encode()
    pack._sha256 = hashlib.sha256(raw).hexdigest()
    pack._path = name if raw is not None and not name.startswith("<") else None
    return pack


def load_pack_file(path: str | Path) -> Pack:
    data, positions, raw = yamlio.load(path, "pack")
    return pack_from_data(data, str(path), positions, raw)


def rules_dir() -> Path:
    """Where the bundled packs live: $DVSAFEGUARD_RULES, the source checkout, or the installed copy."""
    env = os.environ.get("DVSAFEGUARD_RULES")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    checkout = here.parents[2] / "rules"
    if checkout.is_dir():
        return checkout
    return here.parent / "_rules"


def pack_files(root: Path | None = None) -> list[Path]:
    """Every pack file under ``root`` (pack tests ``*.tests.yaml`` excluded)."""
    root = root or rules_dir()
    return sorted(p for p in root.glob("*/*.yaml") if not p.name.endswith(".tests.yaml"))


def available() -> dict[str, list[str]]:
    """Board id → versions available in the bundled rules directory, oldest first."""
    out: dict[str, list[str]] = {}
    for p in pack_files():
        out.setdefault(p.parent.name, []).append(p.stem)
    return out


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime_ns: int) -> Pack:
    return load_pack_file(path)


def load_pack(ref: str | Path) -> Pack:
    """Load a pack by reference — ``london`` (latest version), ``london@2008-03`` — or by file path.

    Packs are cached by path and modification time, so a pack is parsed and compiled once.
    """
    p = Path(ref)
    if p.suffix in (".yaml", ".yml") or p.is_file():  # a folder named like a board is not a pack
        if not p.is_file():
            raise PackNotFound(f"no pack file {p}")
        return _load_cached(str(p.resolve()), p.stat().st_mtime_ns)
    board, _, version = str(ref).partition("@")
    versions = available().get(board)
    if not versions:
        raise PackNotFound(f"no pack for board {board!r}; available: {', '.join(sorted(available())) or 'none'}"
                           f"{_suggest(board, list(available()))}")
    if version and version not in versions:
        raise PackNotFound(f"no version {version!r} of {board!r}; available: {', '.join(versions)}")
    path = rules_dir() / board / f"{version or versions[-1]}.yaml"
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns)
