"""``dvsafeguard lint``: shipped packs are clean; each kind of broken pack is caught, in place.

Most tests write a modified copy of a pack (and, where needed, a small source text) into
``tmp_path``; nothing under rules/ is changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

from dvsafeguard import yamlio
from dvsafeguard.cli import main
from dvsafeguard.errors import Problem
from dvsafeguard.lint import ERROR, WARNING, SourceText, lint_pack_file
from dvsafeguard.pack import pack_files

ROOT = Path(__file__).resolve().parents[1]
SOURCES = Path(__file__).resolve().parents[2] / "shared" / "sources"
LONDON = ROOT / "rules" / "london" / "2008-03.yaml"


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == ERROR]


def warnings(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == WARNING]


def place(text: str, needle: str, key: str) -> tuple[int, int]:
    """1-based line of the only line containing ``needle``, and the column of ``key`` on it."""
    hits = [i for i, line in enumerate(text.split("\n")) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on {len(hits)} lines"
    line = text.split("\n")[hits[0]]
    return hits[0] + 1, line.index(key) + 1


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the pack no longer contains {old!r} exactly once"
    return text.replace(old, new)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def reconstructed_source(pack_text: str) -> str:
    """A stand-in source text holding every citation of a numbered pack, for a checkout without
    ../shared/sources: each paragraph number on its own line, its item label and quote below."""
    data = yaml.safe_load(pack_text)
    cites = [data["combination"]["citation"]]
    for key in ("ladder", "rules", "actions"):
        cites += [item["citation"] for item in data.get(key, [])]
    cites += [{"paragraph": n["paragraph"], "quote": "(note)"} for n in data.get("notes", [])]
    out = []
    for c in cites:
        number, _, label = c["paragraph"].split(", ")[0].partition(" ")
        out.append(f"{number}\n{label + ' ' if label else ''}> {c['quote']}\n")
    return "\n".join(out)


@pytest.fixture
def london(tmp_path: Path) -> tuple[str, Path]:
    """The London pack text and a sources directory it is clean against.

    The real sources are used when the checkout has them beside it; otherwise a stand-in
    source is rebuilt from the pack's own citations (and the copy's sha256 updated), so every
    source check below still runs.
    """
    text = LONDON.read_text(encoding="utf-8")
    if SOURCES.is_dir():
        return text, SOURCES
    doc = yaml.safe_load(text)["source"]
    stand_in = reconstructed_source(text).encode("utf-8")
    write(tmp_path / "sources" / doc["document"], stand_in.decode("utf-8"))
    return edit(text, doc["sha256"], hashlib.sha256(stand_in).hexdigest()), tmp_path / "sources"


def lint_text(tmp_path: Path, text: str, sources: Path | None = None,
              name: str = "rules/london/2008-03.yaml") -> tuple[Path, list[Problem]]:
    path = write(tmp_path / "copy" / name, text)
    return path, lint_pack_file(path, sources)


# A small numbered source and a pack citing it: exact control over every citation.
SOURCE = """\
1. PURPOSE
This procedure says what to do.

2. PROCEDURE
2.1 Referral
A referral must always be made where a child is at
risk.\u00a0Professionals should keep the child’s records safe.
a) Tell the manager at once;
b) Record the decision in writing.
17 A footnote that is not a paragraph.
c) Share the record with the school.

2.2 Other matters
Information may be shared without consent.
"""

PACK = """\
id: testboard
board: Test Board
title: Test procedure
version: "2020-01"
in_force: {from: 2020-01-01}
source:
  document: test-source.txt
  title: Test
  published: January 2020
  sha256: SHA
ladder:
  - id: no_referral
    label: No referral
    citation:
      paragraph: "1"
      quote: "This procedure says what to do."
  - id: referral
    label: Referral
    citation:
      paragraph: "2.1"
      quote: "A referral must always be made where a child is at risk."
default_outcome: no_referral
combination:
  policy: highest
  citation:
    paragraph: "2.1"
    quote: "A referral must always be made"
dimensions: [csc_referral]
rules:
  - id: harm-referral
    title: Significant harm suspected
    citation:
      paragraph: "2.1"
      quote: "A referral must always be made where a child is at risk."
    when: {fact: concerns.significant_harm_suspected, is: true}
    outcome: referral
    sets: {csc_referral: required}
    actions: [tell-manager, share-record]
    reading: at-risk
actions:
  - id: tell-manager
    text: Tell the manager.
    kind: should
    citation:
      paragraph: "2.1 a)"
      quote: "Tell the manager at once;"
  - id: share-record
    text: Share the record with the school and keep records safe.
    kind: should
    citation:
      paragraph: "2.1 c)"
      quote: "Share the record with the school."
notes:
  - id: at-risk
    paragraph: "2.1"
    text: Suspected significant harm is read as a child at risk.
"""


@pytest.fixture
def small(tmp_path: Path) -> tuple[str, Path]:
    """The small pack's text (sha256 filled in) and its sources directory."""
    src = write(tmp_path / "sources" / "test-source.txt", SOURCE)
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    return PACK.replace("SHA", sha), src.parent


# --------------------------------------------------------------------------------------------
# shipped packs
# --------------------------------------------------------------------------------------------


def test_every_shipped_pack_lints_without_errors() -> None:
    packs = pack_files()
    assert LONDON in packs
    sources = SOURCES if SOURCES.is_dir() else None  # without them: shape, references, logic
    for path in packs:
        problems = lint_pack_file(path, sources)
        assert errors(problems) == [], "\n".join(map(str, errors(problems)))
        # a rule that can never apply is always a mistake (shadowing is advice, not checked here)
        never = [p for p in problems if "can never" in p.message]
        assert never == [], "\n".join(map(str, never))


def test_london_is_clean_against_its_source(london: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = london
    _, problems = lint_text(tmp_path, text, sources)
    assert errors(problems) == []
    assert not [p for p in problems if "quote" in p.field]


def test_source_paragraph_detection_on_the_real_london_text() -> None:
    # a sanity check of the numbering reader on the real document, when it is there; the
    # same reader is exercised on the small source in every checkout below
    src_path = SOURCES / "london-2008-safeguarding-children-abused-through-domestic-violence.txt"
    text = src_path.read_text(encoding="utf-8") if src_path.is_file() else SOURCE
    src = SourceText(text)
    if src_path.is_file():
        assert len(src.sections("9.4.2")) == 2  # the text is extracted twice
        assert all(src.item(s, "c)") is not None for s in src.sections("9.4.2"))
        assert src.sections("9.4.9") == []
    else:
        assert src.sections("2.1") and src.item(src.sections("2.1")[0], "c)") is not None
        assert src.sections("2.9") == []


# --------------------------------------------------------------------------------------------
# citations against the source
# --------------------------------------------------------------------------------------------


def test_small_pack_is_clean(small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    _, problems = lint_text(tmp_path, text, sources)
    assert problems == []


def test_altered_quote_in_london_is_rejected_with_file_line_column(
        london: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, sources = london
    old = "any single incident of domestic violence will fall within scale 4."
    text = edit(text, old, "any single incident of domestic abuse will fall within scale 4.")
    path, problems = lint_text(tmp_path, text, sources)
    line, col = place(text, "domestic abuse will fall within scale 4", "quote:")
    bad = errors(problems)
    assert [(p.line, p.column, p.field) for p in bad] == [(line, col, "rules[4].citation.quote")]
    assert "quote not found verbatim" in bad[0].message
    assert "characters match" in bad[0].message  # says where the quote departs from the text
    code = main(["lint", str(path), "--sources", str(sources)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{path}:{line}:{col}: error: rules[4].citation.quote:" in out


def test_straight_apostrophe_for_a_curly_one_is_rejected_with_a_hint(
        small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    text = edit(text, 'quote: "Share the record with the school."',
                "quote: \"Professionals should keep the child's records safe.\"")
    _, problems = lint_text(tmp_path, text, sources)
    (bad,) = errors(problems)
    assert bad.field == "actions[1].citation.quote"
    assert "only quotation marks, apostrophes or dashes differ" in bad.message
    assert "child’s" in bad.message


def test_quote_matches_across_line_breaks_and_nbsp(small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    # in the source "at" ends a line and "risk." is followed by a no-break space
    text = edit(text, 'quote: "A referral must always be made"',
                'quote: "child is at   risk. Professionals should keep"')
    _, problems = lint_text(tmp_path, text, sources)
    assert errors(problems) == []


def test_quote_under_another_paragraph_is_an_error(small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    text = edit(text, 'paragraph: "1"\n      quote: "This procedure',
                'paragraph: "2.2"\n      quote: "This procedure')
    _, problems = lint_text(tmp_path, text, sources)
    assert warnings(problems) == []
    (w,) = errors(problems)
    assert w.field == "ladder[0].citation.quote"
    assert "not under 2.2" in w.message and "under 1" in w.message


def test_wrong_paragraph_number_is_rejected(london: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = london
    text = edit(text, 'paragraph: "9.3.4"', 'paragraph: "9.3.14"')
    _, problems = lint_text(tmp_path, text, sources)
    line, col = place(text, '"9.3.14"', "paragraph:")
    (bad,) = errors(problems)
    assert (bad.line, bad.column) == (line, col)
    assert "paragraph '9.3.14' is not printed at the start of any line" in bad.message


def test_wrong_item_and_footnote_inside_a_paragraph(small: tuple[str, Path],
                                                    tmp_path: Path) -> None:
    text, sources = small
    # c) follows a footnote line "17 ..." that must not end paragraph 2.1: the pack is clean,
    # and an item that 2.1 does not have is an error
    _, clean = lint_text(tmp_path, text, sources)
    assert clean == []
    text = edit(text, 'paragraph: "2.1 a)"', 'paragraph: "2.1 d)"')
    _, problems = lint_text(tmp_path, text, sources)
    (bad,) = errors(problems)
    assert bad.field == "actions[0].citation.paragraph"
    assert "has no item 'd)'" in bad.message


def test_quote_from_another_item_is_an_error(small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    text = edit(text, 'paragraph: "2.1 a)"', 'paragraph: "2.1 b)"')
    _, problems = lint_text(tmp_path, text, sources)
    assert warnings(problems) == []
    (w,) = errors(problems)
    assert w.field == "actions[0].citation.quote" and "not under 2.1 b)" in w.message


def test_note_paragraph_is_checked(small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    text = edit(text, 'paragraph: "2.1"\n    text: Suspected',
                'paragraph: "3.1"\n    text: Suspected')
    _, problems = lint_text(tmp_path, text, sources)
    (bad,) = errors(problems)
    assert bad.field == "notes[0].paragraph" and "'3.1' is not printed" in bad.message


def test_unnumbered_document_headings(tmp_path: Path) -> None:
    source = ("Solihull Procedures\nProfessional response and support\nThe professional "
              "should:\nTell the manager at once;\nAPPENDIX 2: SIGNPOSTING\nCall the helpline.\n")
    src = write(tmp_path / "sources" / "test-source.txt", source)
    pack = PACK.replace("SHA", hashlib.sha256(src.read_bytes()).hexdigest())
    pack = re.sub(r'paragraph: "[^"]*"', 'paragraph: "Professional response and support, '
                  'paragraph 1, item 1"', pack)
    pack = re.sub(r'quote: "[^"]*"', 'quote: "Tell the manager at once;"', pack)
    _, problems = lint_text(tmp_path, pack, src.parent)
    assert errors(problems) == []
    appendix = edit(pack, 'paragraph: "Professional response and support, paragraph 1, item 1"\n'
                    '      quote: "Tell the manager at once;"\n  - id: referral',
                    'paragraph: "APPENDIX 2"\n      quote: "Call the helpline."\n  - id: referral')
    _, problems = lint_text(tmp_path, appendix, src.parent)
    assert problems == []
    # a quote from under another cited heading is an error
    elsewhere = edit(appendix, 'quote: "Call the helpline."', 'quote: "Tell the manager at once;"')
    _, problems = lint_text(tmp_path, elsewhere, src.parent)
    assert warnings(problems) == []
    (w,) = errors(problems)
    assert w.field == "ladder[0].citation.quote"
    assert "but not under 'APPENDIX 2: SIGNPOSTING'" in w.message
    wrong = edit(pack, 'paragraph: "Professional response and support, paragraph 1, item 1"\n'
                 '      quote: "Tell the manager at once;"\n  - id: referral',
                 'paragraph: "Professional responses and support, paragraph 1"\n'
                 '      quote: "Tell the manager at once;"\n  - id: referral')
    _, problems = lint_text(tmp_path, wrong, src.parent)
    (bad,) = errors(problems)
    assert bad.field == "ladder[0].citation.paragraph"
    assert "did you mean 'Professional response and support'?" in bad.message


def test_wrong_source_sha256_is_rejected(london: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = london
    sha = yaml.safe_load(text)["source"]["sha256"]
    text = edit(text, sha, "deadbeef" * 8)
    _, problems = lint_text(tmp_path, text, sources)
    line, col = place(text, "deadbeef" * 8, "sha256:")
    (bad,) = errors(problems)
    assert (bad.field, bad.line, bad.column) == ("source.sha256", line, col)
    assert sha in bad.message


def test_missing_source_document_suggests_the_right_one(
        small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    text = edit(text, "document: test-source.txt", "document: test-sourse.txt")
    _, problems = lint_text(tmp_path, text, sources)
    (bad,) = errors(problems)
    assert bad.field == "source.document" and "did you mean 'test-source.txt'?" in bad.message
    text = edit(text, "document: test-sourse.txt", "document: ../test-source.txt")
    _, problems = lint_text(tmp_path, text, sources)
    assert "not a path" in errors(problems)[0].message


# --------------------------------------------------------------------------------------------
# shape, references, ids
# --------------------------------------------------------------------------------------------


def test_misspelt_fact_gives_did_you_mean(tmp_path: Path) -> None:
    text = edit(LONDON.read_text(encoding="utf-8"), "{fact: victim.vulnerable_adult, is: true}",
                "{fact: victim.vulnerabel_adult, is: true}")
    path, problems = lint_text(tmp_path, text)
    line, _ = place(text, "victim.vulnerabel_adult", "fact:")
    (bad,) = errors(problems)
    assert bad.line == line and bad.file == str(path)
    assert "unknown fact 'victim.vulnerabel_adult'; did you mean 'victim.vulnerable_adult'?" \
        in bad.message


def test_duplicate_rule_id_is_rejected(tmp_path: Path) -> None:
    text = edit(LONDON.read_text(encoding="utf-8"), "- id: minority-community",
                "- id: special-needs")
    _, problems = lint_text(tmp_path, text)
    line = [i + 1 for i, s in enumerate(text.split("\n")) if "- id: special-needs" in s][1]
    (bad,) = errors(problems)
    assert (bad.line, bad.message) == (line, "duplicate id 'special-needs'")


def test_duplicate_yaml_key_is_rejected_where_it_is(small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    text = edit(text, "    outcome: referral\n",
                "    outcome: referral\n    outcome: no_referral\n")
    _, problems = lint_text(tmp_path, text, sources)
    (bad,) = errors(problems)
    line = text.split("\n").index("    outcome: no_referral") + 1
    assert (bad.field, bad.line, bad.column) == ("rules[0].outcome", line, 5)
    assert bad.message == ("duplicate key 'outcome' (YAML would keep only the last one; the first is on "
                           f"line {line - 1})")


def test_duplicate_invariant_id_is_rejected(small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    invariant = "{id: inv, description: d, given: {fact: victim.pregnant, is: true}}"
    text += f"invariants:\n  - {invariant}\n  - {invariant}\n"
    _, problems = lint_text(tmp_path, text, sources)
    msgs = {(p.field, p.message.split(" (")[0]) for p in errors(problems)}
    assert ("invariants[1].id", "duplicate id 'inv'") in msgs


def test_blank_citation_is_rejected(small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    text = edit(text, 'quote: "Tell the manager at once;"', 'quote: "   "')
    _, problems = lint_text(tmp_path, text, sources)
    (bad,) = errors(problems)
    assert bad.field == "actions[0].citation.quote"
    assert "action 'tell-manager' quotes nothing" in bad.message


def test_unreferenced_note_and_action_are_warned(small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    text = edit(text, "    reading: at-risk\n", "")
    text = edit(text, "actions: [tell-manager, share-record]", "actions: [tell-manager]")
    _, problems = lint_text(tmp_path, text, sources)
    assert errors(problems) == []
    assert {(p.field, p.message) for p in warnings(problems)} == {
        ("notes[0].id", "note 'at-risk' is not the reading of any rule"),
        ("actions[1].id", "action 'share-record' is not required by any rule"),
    }


# --------------------------------------------------------------------------------------------
# logic: unreachable and shadowed rules
# --------------------------------------------------------------------------------------------

EXTRA_RULE = """\
  - id: {id}
    title: extra
    citation:
      paragraph: "2.1"
      quote: "A referral must always be made"
    when: {when}
{effect}
"""


def with_rule(text: str, rule_id: str, when: str, effect: str = "    outcome: referral") -> str:
    return edit(text, "actions:\n  - id: tell-manager",
                EXTRA_RULE.format(id=rule_id, when=when, effect=effect)
                + "actions:\n  - id: tell-manager")


@pytest.mark.parametrize("when", [
    "{all: [{fact: victim.pregnant, is: true}, {fact: victim.pregnant, is: false}]}",
    "{all: [{fact: assessments.dash, is: high}, {all: [{fact: assessments.dash, in: [standard, "
    "medium]}]}]}",
    "{all: [{fact: assessments.police_triage_level, gte: 3}, "
    "{fact: assessments.police_triage_level, lt: 3}]}",
    "{count: incidents, at_least: 3, at_most: 2}",
    "{all: [{count: children, at_least: 2}, {count: children, at_most: 1}]}",
    "{count: children, where: {all: [{fact: unborn, is: true}, {fact: unborn, is: false}]}, "
    "at_least: 1}",
    "{all: [{fact: victim.pregnant, is: true}, {not: {fact: victim.pregnant, is: true}}]}",
    "{any: [{all: [{fact: victim.pregnant, is: true}, {fact: victim.pregnant, is: false}]}, "
    "{count: matrix, at_least: 2, at_most: 1}]}",
    # derived facts that exclude one another by definition
    "{all: [{fact: derived.children_in_household, is: true}, {fact: derived.no_children_in_household, is: true}]}",
    "{all: [{fact: derived.child_under_12_months, is: true}, {fact: derived.child_under_7, is: false}]}",
])
def test_rule_that_can_never_apply_is_warned(small: tuple[str, Path], tmp_path: Path,
                                             when: str) -> None:
    text, sources = small
    text = with_rule(text, "impossible", when)
    _, problems = lint_text(tmp_path, text, sources)
    assert errors(problems) == []
    (w,) = warnings(problems)
    assert w.field == "rules[1].when"
    assert w.message.startswith("rule 'impossible' can never apply:")


@pytest.mark.parametrize("when", [
    "{all: [{fact: victim.pregnant, is: true}, {fact: victim.special_needs, is: false}]}",
    "{all: [{fact: assessments.police_triage_level, gte: 3}, "
    "{fact: assessments.police_triage_level, lte: 3}]}",
    "{all: [{count: children, at_least: 1}, {count: children, at_most: 1}]}",
    "{count: children, where: {any: [{fact: unborn, is: true}, {fact: unborn, is: false}]}, "
    "at_least: 1}",
    "{not: {all: [{fact: victim.pregnant, is: true}, {fact: victim.pregnant, is: false}]}}",
    # a baby living elsewhere: under 12 months, and no children in the household, together
    "{all: [{fact: derived.child_under_12_months, is: true}, {fact: derived.no_children_in_household, is: true}]}",
])
def test_rule_that_can_apply_is_not_warned(small: tuple[str, Path], tmp_path: Path,
                                           when: str) -> None:
    text, sources = small
    _, problems = lint_text(tmp_path, with_rule(text, "possible", when), sources)
    assert problems == []


def test_action_rule_for_an_outcome_the_pack_never_reaches_is_warned(
        small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    # a third level that no rule gives
    text = edit(text, "default_outcome:", "  - id: emergency\n    label: Emergency\n    citation:\n"
                '      paragraph: "2.2"\n      quote: "Information may be shared"\n'
                "default_outcome:")
    text = with_rule(text, "emergency-actions", "{outcome: {in: [emergency]}}",
                     "    actions: [tell-manager]")
    text = with_rule(text, "referral-actions", "{outcome: {at_least: referral}}",
                     "    actions: [tell-manager]")
    _, problems = lint_text(tmp_path, text, sources)
    assert errors(problems) == []
    (w,) = warnings(problems)
    assert w.field == "rules[1].when"
    assert "tests for outcome emergency, which the pack never decides" in w.message


def test_shadowed_outcome_rule_is_warned(small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    # harm-referral (referral) applies whenever this one does, so its lower outcome never counts
    text = with_rule(text, "harm-and-pregnant",
                     "{all: [{fact: victim.pregnant, is: true}, "
                     "{fact: concerns.significant_harm_suspected, is: true}]}",
                     "    outcome: no_referral")
    _, problems = lint_text(tmp_path, text, sources)
    (w, *more) = warnings(problems)
    assert more == [] and w.field == "rules[1].outcome"
    assert "'harm-and-pregnant' is shadowed by rule 'harm-referral'" in w.message


def test_narrower_rule_with_higher_outcome_is_not_shadowed(
        small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    text = edit(text, "default_outcome:", "  - id: emergency\n    label: Emergency\n    citation:\n"
                '      paragraph: "2.2"\n      quote: "Information may be shared"\n'
                "default_outcome:")
    text = with_rule(text, "harm-and-count",
                     "{all: [{count: incidents, at_least: 3}, "
                     "{fact: concerns.significant_harm_suspected, is: true}]}",
                     "    outcome: emergency")
    _, problems = lint_text(tmp_path, text, sources)
    assert problems == []
    # ... but the same rule giving only 'referral' is shadowed by harm-referral
    lower = edit(text, "    outcome: emergency\n", "    outcome: referral\n")
    _, problems = lint_text(tmp_path, lower, sources)
    assert [w.field for w in warnings(problems)] == ["rules[1].outcome"]


def test_count_implication_is_used_for_shadowing(small: tuple[str, Path], tmp_path: Path) -> None:
    text, sources = small
    text = edit(text, "{fact: concerns.significant_harm_suspected, is: true}",
                "{count: incidents, within_months: 12, at_least: 2}")
    text = with_rule(text, "three-recent-serious",
                     "{count: incidents, where: {fact: severity, is: serious}, within_months: 6, "
                     "at_least: 3}")
    _, problems = lint_text(tmp_path, text, sources)
    assert [w.message.split(":")[0] for w in warnings(problems)] == [
        "rule 'three-recent-serious' is shadowed by rule 'harm-referral'"]


# --------------------------------------------------------------------------------------------
# unsafe files
# --------------------------------------------------------------------------------------------


def test_alias_bomb_is_rejected_with_place(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    path = write(tmp_path / "bomb.yaml", bomb)
    problems = lint_pack_file(path)
    (bad,) = problems
    assert bad.severity == ERROR and bad.file == str(path)
    assert bad.line == 1 and "anchors (&name) are not allowed" in bad.message
    assert main(["lint", str(path)]) == 1
    assert f"{path}:1:" in capsys.readouterr().out


def test_oversized_file_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "big.yaml", "# " + "x" * yamlio.MAX_BYTES + "\nid: big\n")
    (bad,) = lint_pack_file(path)
    assert bad.severity == ERROR and bad.file == str(path) and (bad.line, bad.column) == (1, 1)
    assert f"larger than {yamlio.MAX_BYTES}" in bad.message


# --------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------


def test_cli_exit_codes_and_json(small: tuple[str, Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    text, sources = small
    clean = write(tmp_path / "packs" / "test" / "2020-01.yaml", text)
    assert main(["lint", str(clean), "--sources", str(sources)]) == 0
    assert "1 pack file: 0 errors, 0 warnings" in capsys.readouterr().err

    warned = write(tmp_path / "warned" / "test" / "2020-01.yaml",
                   edit(text, "    reading: at-risk\n", ""))
    assert main(["lint", str(warned.parent.parent), "--sources", str(sources)]) == 0  # a directory
    assert ": warning: notes[0].id:" in capsys.readouterr().out

    broken = write(tmp_path / "broken" / "2020-02.yaml",
                   edit(edit(text, "is: true}", "is: maybe}"), 'version: "2020-01"', 'version: "2020-02"'))
    assert main(["lint", str(broken), str(clean), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(p["file"], p["severity"], p["field"]) for p in report] == [
        (str(broken), "error", "rules[0].when.is")]
    assert report[0]["line"] == place(broken.read_text(), "is: maybe", "when:")[0]

    assert main(["lint", str(tmp_path / "nowhere.yaml")]) == 1
    assert "no such file or directory" in capsys.readouterr().out


def test_cli_default_lints_the_bundled_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["lint"])
    out, err = capsys.readouterr()
    assert code == 0, out
    assert f"{len(pack_files())} pack files: 0 errors" in err


def test_two_pack_files_claiming_one_version_are_an_error(tmp_path: Path) -> None:
    from dvsafeguard.lint import lint_paths

    text = (ROOT / "rules" / "london" / "2008-03.yaml").read_text(encoding="utf-8")
    board = tmp_path / "rules" / "london"
    write(board / "2008-03.yaml", text)
    draft = write(board / "my-draft.yaml", text)  # copied, not yet given its own version
    _, problems = lint_paths([tmp_path / "rules" / "london"])
    (bad,) = [p for p in errors(problems) if p.field == "version"]
    line = text.split("\n").index('version: "2008-03"') + 1
    assert (bad.file, bad.line, bad.column) == (str(draft), line, 1)
    assert bad.message.startswith("london@2008-03 is also the pack in ")
    write(board / "my-draft.yaml", text.replace('version: "2008-03"', 'version: "2008-03-draft"'))
    _, problems = lint_paths([tmp_path / "rules" / "london"])
    assert [p for p in errors(problems) if p.field == "version"] == []


def test_a_deadline_whose_number_contradicts_its_words_is_an_error(tmp_path: Path) -> None:
    text = (ROOT / "rules" / "llr" / "2.14.yaml").read_text(encoding="utf-8")
    old = "      amount: 24\n      text: within 24 hours of being made"
    assert old in text
    _, problems = lint_text(tmp_path, text.replace(old, old.replace("amount: 24", "amount: 48")),
                            name="rules/llr/2.14.yaml")
    (bad,) = errors(problems)
    assert bad.field.endswith(".deadline.amount")
    assert bad.message == ("action 'confirm-referrals-in-writing': deadline amount 48 disagrees with its text "
                           "'within 24 hours of being made'")
