"""The PostgreSQL engine's functions against the rules they implement (app/store/rules.py),
side by side on many cases."""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from app.store import rules

TENANT = "ab" * 16
CASES = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=4)
scalars = (st.none() | st.booleans() | st.integers(*rules.INT64) | text
           | st.floats(-1e6, 1e6))  # jsonb writes 1e16 as 10000000000000000, an integer
keys = st.sampled_from(["a", "b", "c", "chunk_token_num", "raptor"]) | text
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(keys, inner, max_size=4), max_leaves=12)
configs = st.dictionaries(keys, values, max_size=5)
methods = st.sampled_from(["naive", "qa", "book"])


@pytest.fixture
def store(postgres_url, tmp_path):
    return create_app({"TESTING": True, "DB_PATH": str(tmp_path / "unused.json"),
                       "DATABASE_URL": postgres_url}).extensions["store"]


def own(record):
    return {field: record[field] for field in rules.DATASET_FIELDS}


@CASES
@given(before=configs, method=methods, fields=st.fixed_dictionaries(
    {}, optional={"chunk_method": methods, "description": text, "parser_config": configs}),
    merged=st.none() | configs, method_config=st.none() | configs)
def test_an_update_is_rules_patched_of_the_record_as_it_is(store, before, method, fields,
                                                           merged, method_config):
    made = store.create_dataset(TENANT, {"name": "kb", "chunk_method": method,
                                         "parser_config": before}, 1)
    try:
        patch = rules.Patch(fields, merged, method_config)
        updated = store.update_dataset(TENANT, made["id"], patch, 2)
        assert own(updated) == rules.patched(own(made), patch)
        assert store.get_dataset(TENANT, made["id"]) == updated
    finally:
        store.delete_datasets(TENANT)


suffixes = st.lists(st.integers(1, 12), max_size=10)


@CASES
@given(taken=suffixes, odd=st.lists(st.sampled_from(
    ["x(0)", "x(01)", "x(1)(1)", "x (1)", "x(-1)", "X(2)", "y(1)", "x()", "x(3"]), max_size=4),
    base=st.sampled_from(["x", "X", "x(1)"]), bare=st.booleans())
def test_a_create_takes_rules_free_name(store, taken, odd, base, bare):
    """Of `x` among x(N) with gaps, and names that look suffixed but are not."""
    names = (["x"] if bare else []) + [f"x({n})" for n in taken] + odd
    for n, name in enumerate(dict.fromkeys(rules.same_name(name) for name in names)):
        store.create_dataset(TENANT, {"name": name}, n)
    try:
        held = {rules.same_name(r["name"]) for r in store.list_datasets(TENANT)[0]}
        assert store.create_dataset(TENANT, {"name": base}, 99)["name"] == rules.free_name(
            base, held)
    finally:
        store.delete_datasets(TENANT)


@pytest.mark.parametrize("length", [499, 500, 1023])
def test_long_names_of_4_byte_characters_take_their_suffix_through_the_index(store, length):
    """Bases of 1023 characters of 4 bytes each overflow a B-tree entry; the index holds
    the first 500 characters of each."""
    long = "".join(chr(0x1F300 + n % 0x150) for n in range(length))
    store.create_dataset(TENANT, {"name": long[:-1] + "a(1)"}, 0)  # another base, same start
    made = [store.create_dataset(TENANT, {"name": long}, n)["name"] for n in range(4)]
    assert made == [long] + [f"{long}({n})" for n in range(1, 4)]
    store.delete_datasets(TENANT, [r["id"] for r in store.list_datasets(TENANT, name=made[2])[0]])
    assert store.create_dataset(TENANT, {"name": long}, 9)["name"] == made[2]


def test_a_taken_names_suffix_is_found_past_thousands_taken(store):
    names = [store.create_dataset(TENANT, {"name": "x"}, n)["name"] for n in range(1500)]
    assert names == ["x"] + [f"x({n})" for n in itertools.islice(itertools.count(1), 1499)]
