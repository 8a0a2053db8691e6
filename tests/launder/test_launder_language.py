"""The torch-free condition language (detector.launder.language) against the family registry."""
from detector.launder import CATALOGUE_ALL, FAMILIES, STUDY_CONDITIONS, parse_condition
from detector.launder.language import FAMILY_TABLE, FamilyHelp, conditions_text


def test_the_family_table_matches_the_registry():
    registered = tuple(FamilyHelp(name, family.describe(), family.example, "") for name, family in FAMILIES.items())
    table = tuple(row._replace(effect="") for row in FAMILY_TABLE)
    # On a mismatch, the registry's rows (paste them into FAMILY_TABLE, keeping each effect):
    assert table == registered, "\n".join(repr(row) for row in registered)
    assert all(row.effect for row in FAMILY_TABLE)


def test_every_example_in_the_table_and_the_study_parses():
    for condition in (*(row.example for row in FAMILY_TABLE), *CATALOGUE_ALL):
        assert parse_condition(condition).name == condition


def test_conditions_text_lists_every_family_and_the_29():
    text = conditions_text(width=80)
    assert len(STUDY_CONDITIONS) == 29
    assert all(f"  {condition}\n" in text + "\n" for condition in STUDY_CONDITIONS)
    assert all(f"  {name} " in text for name in FAMILIES)
    assert max(len(line) for line in text.splitlines()) <= 100   # the grammar block is fixed; the table wraps
