"""Pack tests: YAML files of cases and the decisions a pack must make for them.

A pack-test file ``rules/<board>/<version>.tests.yaml`` sits beside its pack (format:
:mod:`dvsafeguard.packtest_model`). Each test's case is evaluated with :func:`evaluate` and every
``expect`` key given is compared with the decision:

* ``outcome``, ``settled``, ``lowest``, ``highest`` — equal;
* ``rules`` — these rules applied (certainly; factors included); ``not_rules`` — these did not;
* ``actions`` — these actions are required; ``not_actions`` — these are not;
* ``possible_actions`` — these would become required if unknowns resolve;
* ``citations`` — these paragraphs are cited by applied rules;
* ``unknowns`` — these facts are listed as unknown;
* ``dimensions`` — each named dimension has that value.

For the "present" lists (``rules``, ``actions``, ``possible_actions``, ``citations``,
``unknowns``) an empty list means *there must be none*. Ids in ``expect`` are checked against the
pack when the file is read, so a misspelt rule id is an error, not a test that silently passes.

A failing test prints what was expected, what was decided and the decision's trace. Coverage
(:func:`coverage`) lists the rules, actions and ladder levels no test exercises.

The ``dvsafeguard test [PATHS...] [--coverage] [--engine compiled|durable] [--properties]``
command is registered from here; ``--properties`` also runs the property checks of
:mod:`dvsafeguard.testing` on each pack.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from . import yamlio
from .decision import Decision
from .errors import DvsafeguardError, InputError, Problem
from .evaluate import evaluate
from .facts import Case
from .pack import DIMENSIONS, Pack, load_pack, pack_files, rules_dir
from .packtest_model import Expect, PackTestFile

Engine = Literal["compiled", "durable"]
TESTS_SUFFIX = ".tests.yaml"


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedTest:
    """One test of a file, validated: its case is a :class:`Case`."""

    name: str
    case: Case
    expect: Expect
    file: str
    line: int | None
    index: int


@dataclass(frozen=True)
class LoadedTests:
    path: Path
    pack: Pack
    tests: list[LoadedTest]


def _problem(msg: str, loc: tuple[str | int, ...], name: str,
             positions: yamlio.Positions) -> Problem:
    line, col = yamlio.locate(positions, loc)
    return Problem(msg, yamlio.dotted(loc), name, line, col)


def _validation_problems(err: ValidationError, prefix: tuple[str | int, ...], name: str,
                         positions: yamlio.Positions, unknown: str) -> list[Problem]:
    out = []
    for e in err.errors():
        loc = prefix + tuple(e["loc"])
        msg = unknown if e["type"] == "extra_forbidden" else e["msg"]
        out.append(_problem(msg, loc, name, positions))
    return out


def _resolve_pack(ref: str | None, path: Path, positions: yamlio.Positions) -> Pack:
    """The pack a tests file tests: its ``pack:`` reference, else the sibling ``<version>.yaml``.

    A reference ``board@version`` is looked up first in the rules directory the tests file lives
    in (``<root>/<board>/<version>.yaml``), so a copy of a rules tree tests its own packs; then in
    the bundled rules. A reference ending in ``.yaml`` is a path relative to the tests file.
    """
    name = str(path)
    if ref is None:
        sibling = path.with_name(path.name[: -len(TESTS_SUFFIX)] + ".yaml")
        if not sibling.is_file():
            raise InputError("pack test", [Problem(
                f"no pack named and no sibling pack file {sibling.name}; "
                "add `pack: <board>@<version>`",
                "pack", name, 1, 1)])
        return load_pack(sibling)
    try:
        if ref.endswith((".yaml", ".yml")):
            p = Path(ref)
            return load_pack(p if p.is_absolute() else path.parent / p)
        board, _, version = ref.partition("@")
        local_dir = path.parent.parent / board
        local = sorted(q for q in local_dir.glob("*.yaml") if not q.name.endswith(TESTS_SUFFIX))
        chosen = [q for q in local if q.stem == version] if version else local[-1:]
        pack = load_pack(chosen[0]) if chosen else load_pack(ref)
    except InputError:
        raise
    except DvsafeguardError as e:
        raise InputError("pack test", [_problem(str(e), ("pack",), name, positions)]) from None
    if pack.id != board or (version and pack.version != version):
        raise InputError("pack test", [_problem(
            f"pack {ref!r} resolved to {pack.ref} ({pack.path})", ("pack",), name, positions)])
    return pack


def _expect_problems(expect: Expect, pack: Pack) -> list[tuple[tuple[str | int, ...], str]]:
    """References in ``expect`` that the pack does not have."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    levels = pack.level_ids
    rules = {r.id for r in pack.rules}
    actions = {a.id for a in pack.actions}
    for key in ("outcome", "lowest", "highest"):
        v = getattr(expect, key)
        if v is not None and v not in levels:
            out.append(((key,), f"{v!r} is not a level of {pack.ref}; levels: {', '.join(levels)}"))
    for key, known, what in (("rules", rules, "rule"), ("not_rules", rules, "rule"),
                             ("actions", actions, "action"), ("not_actions", actions, "action"),
                             ("possible_actions", actions, "action")):
        for i, v in enumerate(getattr(expect, key) or []):
            if v not in known:
                out.append(((key, i), f"{v!r} is not {'an' if what[0] in 'aeiou' else 'a'} {what} of {pack.ref}"))
    for dim, value in (expect.dimensions or {}).items():
        if dim not in pack.dimensions:
            out.append((("dimensions", dim), f"{pack.ref} has no dimension {dim!r}; "
                        f"dimensions: {', '.join(pack.dimensions) or 'none'}"))
        elif value not in DIMENSIONS[dim]:
            out.append((("dimensions", dim), f"{value!r} is not a value of {dim}; "
                        f"values: {', '.join(DIMENSIONS[dim])}"))
    return out


def load_tests(path: str | Path) -> LoadedTests:
    """Read and validate a pack-test file and find its pack.

    Raises :class:`InputError` naming file, line, column and field of every problem.
    """
    p = Path(path)
    name = str(p)
    data, positions, _ = yamlio.load(p, "pack test")
    if not isinstance(data, dict):
        raise InputError("pack test", [Problem("a pack-test file must be a YAML mapping", file=name,
                                               line=1, column=1)])
    try:
        model = PackTestFile.model_validate(data)
    except ValidationError as e:
        raise InputError("pack test", _validation_problems(
            e, (), name, positions, "unknown field (not allowed here)")) from None
    pack = _resolve_pack(model.pack, p, positions)
    problems: list[Problem] = []
    tests: list[LoadedTest] = []
    seen: dict[str, int] = {}
    for i, t in enumerate(model.tests):
        prefix: tuple[str | int, ...] = ("tests", i)
        if t.name in seen:
            problems.append(_problem(f"duplicate test name {t.name!r} (also tests[{seen[t.name]}])",
                                     prefix + ("name",), name, positions))
        seen.setdefault(t.name, i)
        for loc, msg in _expect_problems(t.expect, pack):
            problems.append(_problem(msg, prefix + ("expect",) + loc, name, positions))
        try:
            case = Case.model_validate(t.case)
        except ValidationError as e:
            problems.extend(_validation_problems(e, prefix + ("case",), name, positions,
                                                 "unknown fact (not allowed here)"))
            continue
        line, _ = yamlio.locate(positions, prefix)
        tests.append(LoadedTest(t.name, case, t.expect, name, line, i))
    if problems:
        raise InputError("pack test", problems)
    return LoadedTests(p, pack, tests)


# --------------------------------------------------------------------------------------------
# Running and comparing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    key: str
    expected: Any
    decided: Any

    def __str__(self) -> str:
        return f"{self.key}: expected {_show(self.expected)}, decided {_show(self.decided)}"


@dataclass(frozen=True)
class TestResult:
    """The result of one pack test."""

    __test__ = False  # not a pytest class

    name: str
    file: str
    line: int | None
    decision: Decision | None
    mismatches: list[Mismatch]
    engine: Engine = "compiled"
    error: str | None = None
    """Set when evaluating the case raised an error (no decision was made)."""

    @property
    def passed(self) -> bool:
        return not self.mismatches and self.error is None

    def report(self) -> str:
        """What was expected, what was decided, and the decision's trace."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        head = f"pack test {self.name!r} ({where}) {'passed' if self.passed else 'FAILED'}"
        lines = [head]
        if self.mismatches:
            lines.append("expected vs decided:")
            lines.extend(f"  {m}" for m in self.mismatches)
        if self.error is not None:
            lines.append(f"evaluating the case ({self.engine} engine) raised {self.error}")
        if self.decision is not None:
            lines.append(f"decision ({self.engine} engine):")
            lines.extend("  " + ln for ln in trace(self.decision))
        return "\n".join(lines)


@dataclass
class FileResult:
    path: Path
    pack: Pack
    results: list[TestResult] = field(default_factory=list)

    @property
    def failed(self) -> list[TestResult]:
        return [r for r in self.results if not r.passed]


def _show(v: Any) -> str:
    if isinstance(v, list):  # an item with a comma in it ("7, paragraph 2") is quoted
        return "[" + ", ".join(f'"{x}"' if ", " in str(x) else str(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {x}" for k, x in v.items()) + "}"
    return str(v).lower() if isinstance(v, bool) else str(v)


def applied_rule_ids(d: Decision) -> list[str]:
    """Every rule that applied (certainly), factors included, in pack order of the decision."""
    return [r.id for r in d.rules] + [r.id for r in d.factors]


def cited_paragraphs(d: Decision) -> list[str]:
    return [r.citation.paragraph for r in [*d.rules, *d.factors]]


def compare_expect(expect: Expect, d: Decision) -> list[Mismatch]:
    """Every way the decision differs from the expectation (empty: the test passes)."""
    out: list[Mismatch] = []

    def scalar(key: str, want: Any, got: Any) -> None:
        if want is not None and want != got:
            out.append(Mismatch(key, want, got))

    scalar("outcome", expect.outcome, d.outcome.id)
    scalar("settled", expect.settled, d.settled)
    scalar("lowest", expect.lowest, d.bounds.lowest.id)
    scalar("highest", expect.highest, d.bounds.highest.id)

    def present(key: str, want: list[str] | None, got: list[str]) -> None:
        if want is None:
            return
        if not want:
            if got:
                out.append(Mismatch(key, "none", got))
            return
        missing = [w for w in want if w not in got]
        if missing:
            out.append(Mismatch(f"{key} (missing {', '.join(missing)})", want, got))

    def absent(key: str, want: list[str] | None, got: list[str]) -> None:
        unwanted = [w for w in want or [] if w in got]
        if unwanted:
            out.append(Mismatch(f"{key} (present: {', '.join(unwanted)})", want, got))

    rules = applied_rule_ids(d)
    actions = [a.id for a in d.actions]
    present("rules", expect.rules, rules)
    absent("not_rules", expect.not_rules, rules)
    present("actions", expect.actions, actions)
    absent("not_actions", expect.not_actions, actions)
    present("possible_actions", expect.possible_actions, [a.id for a in d.possible_actions])
    present("citations", expect.citations, cited_paragraphs(d))
    present("unknowns", expect.unknowns, [u.fact for u in d.unknowns])
    for dim, value in (expect.dimensions or {}).items():
        got = d.dimensions[dim].value if dim in d.dimensions else None
        if got != value:
            out.append(Mismatch(f"dimensions.{dim}", value, got))
    return out


def trace(d: Decision) -> list[str]:
    """The decision as lines: outcome and bounds, applied rules with paragraph and facts used,
    factors, actions, possible actions, unknowns and dimensions."""
    lines = [
        f"outcome: {d.outcome.id} ({'settled' if d.settled else 'not settled'}); "
        f"bounds [{d.bounds.lowest.id} .. {d.bounds.highest.id}]",
        f"pack: {d.pack.id}@{d.pack.version}",
    ]

    def rule_lines(title: str, rules: Iterable[Any]) -> None:
        rules = list(rules)
        lines.append(f"{title}:" + ("" if rules else " none"))
        for r in rules:
            effect = f" -> {r.outcome}" if r.outcome else ""
            lines.append(f"  - {r.id} [{r.citation.paragraph}]{effect}")
            if r.facts:
                facts = ", ".join(f"{k}={_fact(v)}" for k, v in r.facts.items())
                lines.append(f"      facts: {facts}")
            if r.reading is not None:
                lines.append(f"      reading: {r.reading.id} ({r.reading.paragraph})")

    rule_lines("rules applied", d.rules)
    if d.factors:
        rule_lines("factors", d.factors)
    lines.append("actions:" + ("" if d.actions else " none"))
    lines.extend(f"  - {a.id} [{a.citation.paragraph}] because {', '.join(a.because)}"
                 for a in d.actions)
    if d.possible_actions:
        lines.append("possible actions (if unknowns resolve):")
        lines.extend(f"  - {a.id} if known: {', '.join(a.if_known) or '-'}"
                     for a in d.possible_actions)
    lines.append("unknowns:" + ("" if d.unknowns else " none"))
    for u in d.unknowns:
        raise_to = f" (could raise to {u.could_raise_to})" if u.could_raise_to else ""
        lines.append(f"  - {u.fact}{raise_to} via {', '.join(u.rules)}")
    if d.dimensions:
        dims = ", ".join(
            f"{k}={v.value}" + (f" (up to {v.highest})" if v.highest != v.value else "")
            for k, v in d.dimensions.items())
        lines.append(f"dimensions: {dims}")
    return lines


def _fact(v: Any) -> str:
    from .report import show_value  # report reads decisions for people; tests print them the same way

    return show_value(v, quote=False)


def run_test(test: LoadedTest, pack: Pack, engine: Engine = "compiled") -> TestResult:
    """Evaluate a test's case and compare; an error while evaluating fails the test."""
    try:
        d = evaluate(test.case, pack, engine=engine)
    except Exception as e:  # noqa: BLE001 - reported as this test's failure, the run goes on
        return TestResult(test.name, test.file, test.line, None, [], engine,
                          f"{type(e).__name__}: {e}")
    return TestResult(test.name, test.file, test.line, d, compare_expect(test.expect, d), engine)


def run_file(path: str | Path, engine: Engine = "compiled") -> FileResult:
    loaded = load_tests(path)
    result = FileResult(loaded.path, loaded.pack)
    for t in loaded.tests:
        result.results.append(run_test(t, loaded.pack, engine))
    return result


def find_test_files(paths: Sequence[str | Path] | None = None) -> list[Path]:
    """Pack-test files: the files given, and every ``*.tests.yaml`` under the directories given
    (default: the bundled rules directory)."""
    out: list[Path] = []
    for p in [Path(x) for x in (paths or [rules_dir()])]:
        if p.is_dir():
            out.extend(sorted(p.rglob(f"*{TESTS_SUFFIX}")))
        elif p.name.endswith(TESTS_SUFFIX):
            out.append(p)
        elif p.suffix in (".yaml", ".yml") and p.with_name(p.stem + TESTS_SUFFIX).is_file():
            out.append(p.with_name(p.stem + TESTS_SUFFIX))  # a pack file: its tests
        elif not p.exists():
            raise InputError("pack test", [Problem("no such file or directory", file=str(p))])
        else:
            raise InputError("pack test", [Problem(
                f"not a pack-test file (*{TESTS_SUFFIX}) and has no sibling tests file",
                file=str(p))])
    return list(dict.fromkeys(out))


def _pack_files_under(paths: Sequence[str | Path] | None) -> list[Path]:
    out: list[Path] = []
    for p in [Path(x) for x in (paths or [rules_dir()])]:
        if p.is_dir():
            out.extend(pack_files(p) if any(p.glob("*/*.yaml")) else
                       sorted(q for q in p.glob("*.yaml") if not q.name.endswith(TESTS_SUFFIX)))
        elif p.suffix in (".yaml", ".yml") and not p.name.endswith(TESTS_SUFFIX):
            out.append(p)
    return out


# --------------------------------------------------------------------------------------------
# Coverage
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Which rules, actions and ladder levels no test of a pack exercises."""

    pack: str
    tests: int
    untested_rules: list[str]
    untested_actions: list[str]
    untested_levels: list[str]
    rules: int
    actions: int
    levels: int

    @property
    def complete(self) -> bool:
        return not (self.untested_rules or self.untested_actions or self.untested_levels)

    def report(self) -> str:
        def part(what: str, untested: list[str], total: int) -> str:
            head = f"  {what}: {total - len(untested)}/{total} exercised"
            return head + (f"; untested: {', '.join(untested)}" if untested else "")

        return "\n".join([
            f"coverage of {self.pack} ({self.tests} test{'s' * (self.tests != 1)}):",
            part("rules", self.untested_rules, self.rules),
            part("actions", self.untested_actions, self.actions),
            part("levels", self.untested_levels, self.levels),
        ])


def coverage(pack: Pack, decisions: Iterable[Decision]) -> Coverage:
    """Coverage of a pack by the decisions of its tests.

    A rule is exercised when it applies (certainly) in some decision; an action when it is
    required in some decision; a ladder level when it is some decision's outcome.
    """
    rules: set[str] = set()
    actions: set[str] = set()
    levels: set[str] = set()
    n = 0
    for d in decisions:
        n += 1
        rules.update(applied_rule_ids(d))
        actions.update(a.id for a in d.actions)
        levels.add(d.outcome.id)
    return Coverage(
        pack=pack.ref, tests=n,
        untested_rules=[r.id for r in pack.rules if r.id not in rules],
        untested_actions=[a.id for a in pack.actions if a.id not in actions],
        untested_levels=[lv for lv in pack.level_ids if lv not in levels],
        rules=len(pack.rules), actions=len(pack.actions), levels=len(pack.ladder),
    )


def coverage_of_files(results: Iterable[FileResult],
                      packs: Iterable[Pack] = ()) -> list[Coverage]:
    """Coverage per pack over the results of its test files; ``packs`` without tests are
    reported with everything untested."""
    by_pack: dict[str, tuple[Pack, list[Decision]]] = {}
    for p in packs:
        by_pack.setdefault(p.path or p.ref, (p, []))
    for fr in results:
        key = fr.pack.path or fr.pack.ref
        by_pack.setdefault(key, (fr.pack, []))[1].extend(
            r.decision for r in fr.results if r.decision is not None)
    return [coverage(p, ds) for p, ds in by_pack.values()]


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def _display(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    paths: list[str] = args.paths
    files = find_test_files(paths)
    status = 0
    file_results: list[FileResult] = []
    total = failed = 0
    for f in files:
        try:
            fr = run_file(f, args.engine)
        except DvsafeguardError as e:
            print(f"{_display(f)}: ERROR\n{e}", file=out)
            status = 2
            continue
        file_results.append(fr)
        total += len(fr.results)
        failed += len(fr.failed)
        print(f"{_display(f)}: {len(fr.results) - len(fr.failed)} passed, {len(fr.failed)} failed "
              f"({fr.pack.ref}, {args.engine} engine)", file=out)
        for r in fr.results:
            if not r.passed:
                print("\n" + r.report() + "\n", file=out)
            elif args.verbose:
                print(f"  ok  {r.name}", file=out)
    if failed and not status:
        status = 1
    if not files:
        print("no pack-test files found", file=out)
    print(f"{total - failed} passed, {failed} failed in {len(files)} file{'s' * (len(files) != 1)}",
          file=out)
    if args.coverage:
        packs = []
        for p in _pack_files_under(paths):
            try:
                packs.append(load_pack(p))
            except DvsafeguardError as e:
                print(f"{_display(p)}: ERROR\n{e}", file=out)
                status = status or 2
        for cov in coverage_of_files(file_results, packs):
            print("\n" + cov.report(), file=out)
    if args.properties:
        from .testing import check_pack

        seen: set[str] = set()
        targets = [fr.pack for fr in file_results]
        for p in _pack_files_under(paths):
            try:
                targets.append(load_pack(p))
            except DvsafeguardError:
                continue  # already reported above, or by `dvsafeguard lint`
        for pack in targets:
            key = pack.path or pack.ref
            if key in seen:
                continue
            seen.add(key)
            report = check_pack(pack, max_examples=args.max_examples)
            print("\n" + report.format(), file=out)
            if not report.ok and not status:
                status = 1
    return status


def register(sub: Any) -> None:
    p = sub.add_parser(
        "test",
        help="run pack tests (*.tests.yaml), with coverage and property checks",
        description="Run YAML pack tests. PATHS are pack-test files, pack files (their sibling "
                    "tests) or directories searched for *.tests.yaml (default: the bundled rules).",
    )
    p.add_argument("paths", nargs="*", metavar="PATHS")
    p.add_argument("--coverage", action="store_true",
                   help="list the rules, actions and ladder levels no test exercises, per pack")
    p.add_argument("--engine", choices=["compiled", "durable"], default="compiled",
                   help="the engine that evaluates the cases (default: compiled)")
    p.add_argument("--properties", action="store_true",
                   help="also run the built-in property checks and declared invariants "
                        "on each pack")
    p.add_argument("--max-examples", type=int, default=200, metavar="N",
                   help="hypothesis examples per property check (default: 200)")
    p.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    p.set_defaults(func=run)
