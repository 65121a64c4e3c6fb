"""Bad input gets a clear error naming the file, line and field — and no decision."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

import dvsafeguard as dv
from dvsafeguard import yamlio
from dvsafeguard.pack import load_pack_file

ROOT = Path(__file__).resolve().parents[1]
LONDON = ROOT / "rules" / "london" / "2008-03.yaml"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_malformed_yaml_case_names_file_and_line(tmp_path: Path) -> None:
    p = write(tmp_path, "case.yaml", "assessment_date: 2009-01-10\nvictim: {pregnant: true\n")
    with pytest.raises(dv.InputError) as err:
        dv.load_case(p)
    problem = err.value.problems[0]
    assert problem.file == str(p)
    assert problem.line is not None and problem.line >= 2


def test_unknown_field_in_case_file_has_line_and_column(tmp_path: Path) -> None:
    p = write(tmp_path, "case.yaml", "assessment_date: 2009-01-10\nvictim:\n  pregnnant: true\n")
    with pytest.raises(dv.InputError) as err:
        dv.load_case(p)
    text = str(err.value)
    assert f"{p}:3:3: victim.pregnnant: unknown fact" in text


def test_wrong_type_in_case_file(tmp_path: Path) -> None:
    p = write(tmp_path, "case.yaml", "assessment_date: 2009-01-10\nchildren:\n  - age_years: two\n")
    with pytest.raises(dv.InputError) as err:
        dv.load_case(p)
    assert "children[0].age_years" in str(err.value)
    assert ":3:" in str(err.value)


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n" \
           "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n"
    p = write(tmp_path, "bomb.yaml", bomb)
    with pytest.raises(dv.InputError) as err:
        dv.load_case(p)
    assert "not allowed" in str(err.value)
    assert f"{p}:1:" in str(err.value)


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    p = tmp_path / "big.yaml"
    p.write_text("assessment_date: 2009-01-10\n" + "# padding\n" * (yamlio.MAX_BYTES // 10 + 10))
    with pytest.raises(dv.InputError) as err:
        dv.load_case(p)
    assert "larger than" in str(err.value)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "deep.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(dv.InputError):
        dv.load_case(p)


def test_case_that_is_not_a_mapping(tmp_path: Path) -> None:
    p = write(tmp_path, "list.yaml", "- 1\n- 2\n")
    with pytest.raises(dv.InputError, match="mapping"):
        dv.load_case(p)


def test_evaluate_refuses_bad_dict_and_makes_no_decision(london: dv.Pack) -> None:
    with pytest.raises(dv.InputError, match="children.0.injured|children\\[0\\].injured"):
        dv.evaluate({"assessment_date": "2009-01-10", "children": [{"injured": "yes please"}]}, london)


def _pack_with(tmp_path: Path, edit: str, replacement: str) -> Path:
    text = LONDON.read_text(encoding="utf-8")
    assert edit in text
    return write(tmp_path, "pack.yaml", text.replace(edit, replacement, 1))


def test_pack_with_misspelt_fact_suggests_the_right_one(tmp_path: Path) -> None:
    p = _pack_with(tmp_path, "{fact: assessments.specss, is: standard}", "{fact: assessments.specs, is: standard}")
    with pytest.raises(dv.InputError) as err:
        load_pack_file(p)
    text = str(err.value)
    assert "unknown fact 'assessments.specs'" in text and "did you mean 'assessments.specss'" in text
    assert f"{p}:" in text


def test_pack_with_bad_enum_value(tmp_path: Path) -> None:
    p = _pack_with(tmp_path, "{fact: assessments.specss, is: standard}", "{fact: assessments.specss, is: low}")
    with pytest.raises(dv.InputError, match="'low' is not a value of assessments.specss"):
        load_pack_file(p)


def test_pack_with_unknown_outcome_level(tmp_path: Path) -> None:
    p = _pack_with(tmp_path, "    outcome: scale_4\n    sets: {csc_referral: required}",
                   "    outcome: scale_5\n    sets: {csc_referral: required}")
    with pytest.raises(dv.InputError, match="unknown outcome level 'scale_5'"):
        load_pack_file(p)


def test_pack_with_unknown_field_and_missing_citation(tmp_path: Path) -> None:
    p = _pack_with(tmp_path, "    title: Police SPECSS+ assessment is standard\n",
                   "    title: Police SPECSS+ assessment is standard\n    severity: high\n")
    with pytest.raises(dv.InputError) as err:
        load_pack_file(p)
    assert "severity" in str(err.value) and "unknown field" in str(err.value)


def test_pack_rule_without_effect_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(LONDON.read_text(encoding="utf-8"))
    data["rules"].append({"id": "idle", "title": "does nothing",
                          "citation": {"paragraph": "9.2.1", "quote": "x"},
                          "when": {"fact": "victim.pregnant", "is": True}})
    with pytest.raises(dv.InputError, match="no effect"):
        dv.pack.pack_from_data(data)


def test_outcome_test_refused_in_outcome_rule(tmp_path: Path) -> None:
    data = yaml.safe_load(LONDON.read_text(encoding="utf-8"))
    data["rules"][0]["when"] = {"outcome": {"at_least": "scale_1"}}
    with pytest.raises(dv.InputError, match="outcome test is only allowed"):
        dv.pack.pack_from_data(data)


def test_unknown_pack_reference() -> None:
    with pytest.raises(dv.PackNotFound, match="did you mean 'london'"):
        dv.load_pack("londn")
    with pytest.raises(dv.PackNotFound, match="no version '1999'"):
        dv.load_pack("london@1999")


def test_confirmation_fact_cannot_set_the_outcome() -> None:
    data = yaml.safe_load(LONDON.read_text(encoding="utf-8"))
    data["rules"][0]["when"] = {"fact": "derived.no_children_confirmed", "is": False}
    with pytest.raises(dv.InputError, match="may not set the outcome"):
        dv.pack.pack_from_data(data)


def test_a_folder_named_like_a_board_does_not_hide_the_bundled_pack(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "london").mkdir()
    monkeypatch.chdir(tmp_path)
    assert dv.load_pack("london").id == "london"


# --- input that validates loosely but would mean something else: refused, naming the field ------

@pytest.mark.parametrize(("text", "where"), [
    # a second block of the same group would silently replace the first (and its facts)
    ("assessment_date: 2008-06-02\nconcerns: {domestic_abuse_known: true}\nvictim: {pregnant: false}\n"
     "concerns: {previous_concerns: true}\n", ":4:1: concerns: duplicate key 'concerns'"),
    ("assessment_date: 2008-06-02\nchildren:\n  - {date_of_birth: 2007-11-20, date_of_birth: 2001-01-01}\n",
     ":3:33: children[0].date_of_birth: duplicate key 'date_of_birth'"),
    ('{"assessment_date": "2008-06-02", "victim": {"pregnant": true}, "victim": {"separating": true}}',
     ":1:65: victim: duplicate key 'victim'"),
])
def test_a_fact_said_twice_is_refused(tmp_path: Path, text: str, where: str) -> None:
    p = write(tmp_path, "case.json" if text.startswith("{") else "case.yaml", text)
    with pytest.raises(dv.InputError) as err:
        dv.load_case(p)
    assert f"{p}{where}" in str(err.value)


@pytest.mark.parametrize(("text", "where", "why"), [
    ("assessment_date: 2008-02-30\n", ":1:18:", "'2008-02-30' is not a real date"),
    ("assessment_date: 2008-06-02\nchildren:\n  - date_of_birth: 2007-13-01\n", ":3:20:",
     "'2007-13-01' is not a real date"),
    ("assessment_date: 2008-06-02\ncase_id: !!int x\n", ":2:10:", "YAML tags (!!int) are not allowed"),
    # a tag can turn a yes into unknown without failing: refused like any other
    ("assessment_date: 2008-06-02\nvictim: {pregnant: !!null true}\n", ":2:20:", "YAML tags (!!null)"),
    ("assessment_date: 2008-06-02\nvictim: {pregnant: !!bool x}\n", ":2:20:", "YAML tags (!!bool)"),
    # a merge key would bring a second block past the duplicate-key check
    ("assessment_date: 2008-06-02\n<<: {concerns: {domestic_abuse_known: true}}\n"
     "concerns: {previous_concerns: true}\n", ":2:1:", "YAML merge keys (<<) are not allowed"),
])
def test_a_value_yaml_cannot_build_is_an_input_error(tmp_path: Path, text: str, where: str, why: str) -> None:
    p = write(tmp_path, "case.yaml", text)
    with pytest.raises(dv.InputError) as err:
        dv.load_case(p)
    assert f"{p}{where}" in str(err.value) and why in str(err.value)


def test_a_pack_with_a_date_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    text = LONDON.read_text(encoding="utf-8").replace("from: 2008-03-01", "from: 2008-02-30", 1)
    assert "2008-02-30" in text
    p = write(tmp_path, "pack.yaml", text)
    with pytest.raises(dv.InputError) as err:
        load_pack_file(p)
    assert "'2008-02-30' is not a real date" in str(err.value)


BABY = {"assessment_date": "2008-06-02", "children_complete": True, "concerns": {"domestic_abuse_known": True}}


@pytest.mark.parametrize(("child", "field", "why"), [
    # a date of birth that disagrees with the age given beside it: neither may quietly win
    ({"date_of_birth": "2000-01-01", "age_months": 3}, "children[0].age_months",
     "age_months=3 disagrees with date_of_birth 2000-01-01 (101 completed months"),
    ({"date_of_birth": "2008-01-01", "age_years": 1}, "children[0].age_years",
     "age_years=1 disagrees with date_of_birth 2008-01-01 (0 completed years"),
    ({"date_of_birth": "1950-01-01"}, "children[0].date_of_birth", "makes this child 58"),
    ({"date_of_birth": "2009-01-01"}, "children[0].date_of_birth", "is after assessment_date"),
    ({"age_years": False}, "children[0].age_years", "valid integer"),
    ({"age_months": "3"}, "children[0].age_months", "valid integer"),
    ({"in_household": "no"}, "children[0].in_household", "valid boolean"),
    ({"in_household": 1}, "children[0].in_household", "valid boolean"),
    ({"date_of_birth": 0}, "children[0].date_of_birth", "a date must be written YYYY-MM-DD"),
])
def test_a_child_recorded_inconsistently_is_refused(london: dv.Pack, child: dict[str, object], field: str,
                                                    why: str) -> None:
    with pytest.raises(dv.InputError) as err:
        dv.evaluate({**BABY, "children": [child]}, london)
    (problem,) = err.value.problems
    assert problem.field == field and why in problem.message


def test_consistent_date_of_birth_and_ages_are_accepted(london: dv.Pack) -> None:
    child = {"date_of_birth": "2008-01-01", "age_years": 0, "age_months": 5}
    assert dv.evaluate({**BABY, "children": [child]}, london).outcome.id == "scale_4"


@pytest.mark.parametrize(("data", "field"), [
    ({"assessments": {"dvrim_scale": True}}, "assessments.dvrim_scale"),  # YAML `yes` is not 1
    ({"assessments": {"police_triage_level": 4.0}}, "assessments.police_triage_level"),
    ({"assessments": {"mappa_level": False}}, "assessments.mappa_level"),
    ({"matrix": [{"scale": True, "category": "evidence"}]}, "matrix[0].scale"),
    ({"victim": {"pregnant": "off"}}, "victim.pregnant"),
    ({"incidents": [{"date": 1700000000}]}, "incidents[0].date"),
    ({"assessment_date": "1700000000"}, "assessment_date"),
])
def test_loose_values_are_not_read_as_numbers_yes_no_or_dates(data: dict[str, object], field: str) -> None:
    with pytest.raises(dv.InputError) as err:
        dv.evaluate({"assessment_date": "2019-06-02", **data}, "solihull")
    assert [p.field for p in err.value.problems] == [field]


def test_a_cross_field_error_in_a_file_points_at_the_field(tmp_path: Path) -> None:
    p = write(tmp_path, "case.yaml", "assessment_date: 2008-06-02\nincidents:\n  - date: 2008-01-01\n"
                                     "  - date: 2009-01-01\n")
    with pytest.raises(dv.InputError) as err:
        dv.load_case(p)
    assert f"{p}:4:5: incidents[1].date: incident date 2009-01-01 is after assessment_date" in str(err.value)


@pytest.mark.parametrize("pack", ["london", "stockport", "llr", "solihull", "stoke-staffordshire"])
def test_dates_at_the_ends_of_the_calendar_give_a_decision(pack: str) -> None:
    # a 12-month window before 1 March of year 1 starts before the first date there is
    early = {"assessment_date": "0001-03-01", "incidents": [{"date": "0001-01-01", "severity": "serious"}],
             "children": [{"date_of_birth": "0001-01-01"}]}
    late = {"assessment_date": "9999-12-31", "incidents": [{"date": "9999-12-31", "severity": "serious"}],
            "children": [{"date_of_birth": "9999-01-01"}]}
    for case in (early, late):
        d = dv.evaluate(case, pack)
        assert d.assessment_date.isoformat() == case["assessment_date"]


def test_a_case_changed_after_it_was_built_is_checked_again(london: dv.Pack) -> None:
    case = dv.Case.model_validate({"assessment_date": "2009-01-10", "children": [{"age_years": 3}]})
    case.children[0].date_of_birth = date(2009, 5, 1)  # type: ignore[index]  # after the assessment date
    with pytest.raises(dv.InputError) as err:
        dv.evaluate(case, london)
    assert [p.field for p in err.value.problems] == ["children[0].date_of_birth"]
    grown = dv.Case.model_validate({"assessment_date": "2009-01-10", "children": [{"age_years": 3}]})
    grown.children.append({"age_months": 5, "in_household": True})  # type: ignore[union-attr, arg-type]
    assert dv.evaluate({**grown.model_dump(warnings=False), "concerns": {"domestic_abuse_known": True}},
                       london).outcome.id == "scale_4"
    assert dv.evaluate(grown, london).bounds.highest.id == "scale_4"


def test_a_bad_case_in_a_batch_is_named_by_its_place_and_nothing_is_decided(london: dv.Pack) -> None:
    batch = [{"assessment_date": "2009-01-10"}, {"assessment_date": "2009-01-10", "victim": {"pregnant": "x"}},
             {"assessment_date": "2009-01-10", "victim": {"pregnnant": True}}]
    with pytest.raises(dv.InputError) as err:
        dv.evaluate_many(batch, london)
    assert [p.field for p in err.value.problems] == ["[1].victim.pregnant", "[2].victim.pregnnant"]


def test_facts_beside_a_case_wrapper_are_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "case.yaml", "name: a test\ncase:\n  assessment_date: 2008-06-02\nvictim: {pregnant: true}\n")
    with pytest.raises(dv.InputError) as err:
        dv.load_case(p)
    assert f"{p}:4:1: victim: only name and expect may stand beside case:" in str(err.value)
    ok = write(tmp_path, "block.yaml", "name: a test\ncase:\n  assessment_date: 2008-06-02\n"
                                       "  victim: {pregnant: true}\nexpect: {outcome: scale_4}\n")
    assert dv.load_case(ok).victim.pregnant is True


def test_json_indented_with_tabs_is_read(tmp_path: Path) -> None:
    p = write(tmp_path, "case.json",
              '{\n\t"assessment_date": "2009-01-10",\n\t"victim": {\n\t\t"pregnnant": true\n\t}\n}\n')
    with pytest.raises(dv.InputError) as err:  # read, and the unknown fact found where it is
        dv.load_case(p)
    assert f"{p}:4:3: victim.pregnnant: unknown fact" in str(err.value)
    write(tmp_path, "case.json", '{\n\t"assessment_date": "2009-01-10",\n\t"victim": {"pregnant": true}\n}\n')
    assert dv.load_case(p).victim.pregnant is True


def test_an_age_that_disagrees_within_a_child_names_the_field(london: dv.Pack) -> None:
    for child, field in [({"age_years": 1, "age_months": 30}, "children[1].age_months"),
                         ({"unborn": True, "age_months": 2}, "children[1].age_months")]:
        with pytest.raises(dv.InputError) as err:
            dv.evaluate({"assessment_date": "2009-01-10", "children": [{}, child]}, london)
        assert [p.field for p in err.value.problems] == [field]


def test_a_yes_no_fact_tested_against_text_lists_yaml_values(tmp_path: Path) -> None:
    text = LONDON.read_text(encoding="utf-8")
    old = "{fact: victim.vulnerable_adult, is: true}"
    assert old in text
    p = write(tmp_path, "pack.yaml", text.replace(old, "{fact: victim.vulnerable_adult, is: 'yes'}", 1))
    with pytest.raises(dv.InputError) as err:
        load_pack_file(p)
    assert "'yes' is not a value of victim.vulnerable_adult; values: true, false" in str(err.value)


def test_a_bare_tag_that_would_unquote_a_value_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "case.yaml", 'assessment_date: 2008-06-02\nvictim:\n  pregnant: ! "null"\n')
    with pytest.raises(dv.InputError) as err:
        dv.load_case(p)
    assert f"{p}:3:13: YAML tags (!) are not allowed" in str(err.value)


def test_a_tab_inside_a_json_string_is_kept(tmp_path: Path) -> None:
    p = write(tmp_path, "case.json", '{\n\t"assessment_date": "2008-06-01",\n\t"case_id": "a\tb \\\\"\n}\n')
    assert dv.load_case(p).case_id == "a\tb \\"


def test_a_pack_in_force_to_before_from_is_refused(tmp_path: Path) -> None:
    text = LONDON.read_text(encoding="utf-8").replace("  from: 2008-03-01", "  from: 2008-03-01\n  to: 2007-01-01", 1)
    p = write(tmp_path, "pack.yaml", text)
    with pytest.raises(dv.InputError) as err:
        load_pack_file(p)
    assert "in_force: in force to 2007-01-01, before it is in force from 2008-03-01" in str(err.value)
