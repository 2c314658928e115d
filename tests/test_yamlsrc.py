from __future__ import annotations

from tuner.base.diagnostics import Location
from tuner.profile.yamlsrc import load_yaml


def test_positions_of_keys_and_values() -> None:
    doc, problems = load_yaml("a: 1\nb:\n  c: [1, 2]\n", "f.yaml")
    assert problems == []
    assert doc.data == {"a": 1, "b": {"c": [1, 2]}}
    assert doc.location(("b", "c"), key=True) == Location("f.yaml", 3, 3)
    assert doc.location(("b", "c")) == Location("f.yaml", 3, 6)
    assert doc.location(("b", "c", 1)) == Location("f.yaml", 3, 10)
    # a path below a scalar falls back to the nearest node that exists
    assert doc.location(("a", "value")) == Location("f.yaml", 1, 4)


def test_duplicate_key_is_an_error_naming_both_lines() -> None:
    _doc, problems = load_yaml("sysctl:\n  fs.nr_open: 1\n  fs.nr_open: 2\n", "f.yaml")
    assert [str(p) for p in problems] == [
        "f.yaml:3:3: fs.nr_open: duplicate key (first set at line 2); "
        "YAML would silently keep only the last one"
    ]


def test_malformed_yaml() -> None:
    _doc, problems = load_yaml("a: [1\nb: 2\n", "f.yaml")
    assert [str(p) for p in problems] == [
        "f.yaml:2:2: malformed YAML: did not find expected ',' or ']'"
    ]


def test_tab_indentation_is_malformed() -> None:
    _doc, problems = load_yaml("a:\n\tb: 1\n", "f.yaml")
    assert len(problems) == 1
    assert str(problems[0]).startswith("f.yaml:2:1: malformed YAML: ")


def test_two_documents_are_refused() -> None:
    _doc, problems = load_yaml("a: 1\n---\nb: 2\n", "f.yaml")
    assert [str(p) for p in problems] == [
        "f.yaml:3:1: a profile file holds exactly one YAML document"
    ]


def test_merge_keys_expand_and_own_keys_win() -> None:
    doc, problems = load_yaml("x: &x {a: 1, b: 2}\ny:\n  <<: *x\n  b: 3\n", "f.yaml")
    assert problems == []
    assert doc.data == {"x": {"a": 1, "b": 2}, "y": {"b": 3, "a": 1}}


def test_python_tags_are_refused() -> None:
    _doc, problems = load_yaml("a: !!python/object:os.system ls\n", "f.yaml")
    assert [p.message for p in problems] == [
        "explicit YAML tag 'tag:yaml.org,2002:python/object:os.system' is not supported here; "
        "quote the value instead"
    ]


def test_empty_file() -> None:
    doc, problems = load_yaml("", "f.yaml")
    assert (doc.data, problems) == (None, [])
