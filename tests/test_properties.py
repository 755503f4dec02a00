"""Properties of create, list and delete for any names, in any order, for two tenants."""

import re
import tempfile
import unicodedata

import orjson
from flask.json.provider import DefaultJSONProvider
from hypothesis import example, given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from app import create_app
from app.cached import Made, Memo
from tests.conftest import Api, issue_key

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None)
RULES = ("strict", "legacy")
STRICT = r"[A-Za-z0-9_.-]+"
SPACE = st.text(" \t\n\r\x0b\x0c\x1c\x85\xa0\u2003\u3000", max_size=3)  # str.strip() trims these
NAMES = st.one_of(st.text(), st.tuples(SPACE, st.one_of(
    st.text(),
    st.builds("{}{}{}".format, st.text(), st.characters(categories=["Cs"]), st.text()),  # "\ud800"
    st.from_regex(STRICT, fullmatch=True),
    st.builds(str.__mul__, st.sampled_from("a_é "), st.integers(1020, 1026)),  # about the limit
), SPACE).map("".join))
# Few letters, so that names collide, case-insensitively and as `name(N)` too.
CLASHING = st.text("aAßsS.(1) ", min_size=1, max_size=4)


def tenants(folder, name_rule, count=1):
    """APIs for `count` tenants of a new app, on a new store in `folder`."""
    app = create_app({"TESTING": True, "DB_PATH": f"{folder}/db.json", "NAME_RULE": name_rule})
    client, runner = app.test_client(), app.test_cli_runner()
    return [Api(client, issue_key(runner)) for _ in range(count)]


def accepted(name, name_rule):
    """What the contract accepts, as the trimmed name, or None."""
    name = name.strip()
    if not name or len(name) > 1023:
        return None
    if name_rule == "strict":
        return name if re.fullmatch(STRICT, name) else None
    return None if any(map(refused, name)) else name


def refused(char):
    """Whether the legacy rule refuses `char`: controls, surrogates, and what looks like
    nothing or like a plain space (format, private-use and unassigned characters, other
    spaces and separators, fillers and variation selectors)."""
    return (unicodedata.category(char) in ("Cc", "Cs", "Cf", "Co", "Cn", "Zl", "Zp")
            or unicodedata.category(char) == "Zs" and char != " "
            or ord(char) in (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0)
            or 0xFE00 <= ord(char) <= 0xFE0F or 0xE0100 <= ord(char) <= 0xE01EF)


class Model:
    """One tenant's datasets as the contract describes them: (id, name), oldest first."""

    def __init__(self):
        self.datasets = []

    def free_name(self, name):
        taken = {n.casefold() for _, n in self.datasets}
        candidate, n = name, 0
        while candidate.casefold() in taken:
            n += 1
            candidate = f"{name}({n})"
        return candidate

    def listing(self, offset=0, count=-1, orderby="create_time", desc=True):
        order = sorted(enumerate(self.datasets), reverse=desc, key=lambda item: (
            item[1][1].casefold() if orderby == "name" else 0, item[0]))
        page = [dataset for _, dataset in order][offset:]
        return page if count == -1 else page[:count]


def create(api, model, name, name_rule):
    """Create `name` and check the answer against the model, which it then updates."""
    response = api.create(name)
    expected = accepted(name, name_rule)
    if expected is None:
        assert (response.status_code, response.json["code"]) == (400, 102), response.json
        return
    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert data["dataset_name"] == model.free_name(expected)
    model.datasets.append((data["id"], data["dataset_name"]))


def listed(api, **query):
    response = api.list(**query)
    assert response.status_code == 200, response.json
    return [(record["id"], record["name"]) for record in response.json["data"]]


@SETTINGS
@given(name=NAMES, name_rule=st.sampled_from(RULES))
def test_any_name_is_created_trimmed_or_refused(name, name_rule):
    with tempfile.TemporaryDirectory() as folder:
        [api], model = tenants(folder, name_rule), Model()
        create(api, model, name, name_rule)
        create(api, model, name.swapcase(), name_rule)  # the same name, case-insensitively
        assert listed(api, desc="false") == model.datasets


@SETTINGS
@given(steps=st.lists(st.one_of(CLASHING, st.integers(0, 9)), max_size=12),
       name_rule=st.sampled_from(RULES))
def test_any_creates_and_deletes_keep_names_unique(steps, name_rule):
    """Each step creates a name, or deletes the step-th dataset (or an unknown id)."""
    with tempfile.TemporaryDirectory() as folder:
        [api], model = tenants(folder, name_rule), Model()
        for step in steps:
            if isinstance(step, str):
                create(api, model, step, name_rule)
            elif step < len(model.datasets):
                assert api.delete(model.datasets.pop(step)[0]).json["success"] is True
            else:
                assert api.delete(f"{step:032x}").status_code == 404
        names = [name.casefold() for _, name in listed(api)]
        assert len(names) == len(set(names))
        assert listed(api) == model.listing()


class TwoTenants(RuleBasedStateMachine):
    """Two tenants create, list and delete in any order; each sees only its own datasets."""

    def __init__(self):
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.apis = tenants(self.folder.name, "legacy", 2)
        self.models = [Model(), Model()]

    def teardown(self):
        self.folder.cleanup()

    @rule(tenant=st.sampled_from([0, 1]), name=CLASHING)
    def create(self, tenant, name):
        create(self.apis[tenant], self.models[tenant], name, "legacy")

    @rule(tenant=st.sampled_from([0, 1]), owner=st.sampled_from([0, 1]), pick=st.integers(0, 99))
    def delete(self, tenant, owner, pick):
        """Delete one of the owner's datasets: gone if the owner asks, 404 for the other."""
        datasets = self.models[owner].datasets
        if not datasets:
            return
        index = pick % len(datasets)
        response = self.apis[tenant].delete(datasets[index][0])
        if tenant == owner:
            assert (response.status_code, response.json["success"]) == (200, True)
            del datasets[index]
        else:
            assert (response.status_code, response.json["success"]) == (404, False)

    @rule(tenant=st.sampled_from([0, 1]), offset=st.integers(0, 6), count=st.integers(-1, 6),
          orderby=st.sampled_from(["create_time", "update_time", "name", "NAME"]),
          desc=st.sampled_from(["true", "false", "1", "0", "False"]))
    def list(self, tenant, offset, count, orderby, desc):
        query = {"offset": offset, "count": count, "orderby": orderby, "desc": desc}
        expected = self.models[tenant].listing(offset, count, orderby.lower(),
                                               desc.lower() in ("true", "1"))
        assert listed(self.apis[tenant], **query) == expected


TwoTenants.TestCase.settings = settings(SETTINGS, max_examples=60, stateful_step_count=40)
test_two_tenants = TwoTenants.TestCase


# JSON's own types, with floats as the service writes them (without an exponent), and
# types Flask's encoder writes its own way.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.datetimes() | st.uuids()
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: "e" not in repr(f)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)


@SETTINGS
@given(JSON_VALUES, st.booleans())
@example({"b": [1, 0.2, None], "a": {"d": True, "c": "x"}}, False)
@example({"b": "\u00e9", "a": "\U0001f600"}, False)
@example({"a": "x\x7f", "\x1f": "\x00\n"}, False)  # DEL is ASCII, yet Flask escapes it
def test_answers_are_encoded_as_flask_encodes_them(value, debug):
    """The fast encoder gives Flask's default bytes: sorted keys, non-ASCII escaped."""
    app = create_app({"TESTING": True, "DB_PATH": f"{tempfile.gettempdir()}/unused.json"})
    app.debug = debug
    with app.app_context():
        ours = app.json.response(value).get_data()
        assert ours == DefaultJSONProvider(app).response(value).get_data()
        assert app.json.response(data=value).get_data() == \
            DefaultJSONProvider(app).response(data=value).get_data()


@SETTINGS
@given(JSON_VALUES.filter(lambda v: "datetime" not in repr(v) and "UUID" not in repr(v)),
       st.booleans())
def test_answers_made_before_are_encoded_as_the_values_they_hold(value, debug):
    """An answer kept as its JSON (app.cached.Made) gives the bytes its value gives."""
    app = create_app({"TESTING": True, "DB_PATH": f"{tempfile.gettempdir()}/unused.json",
                      "CACHE": "on"})  # what is kept, whatever the run's setting
    app.debug = debug
    with app.app_context():
        made = Memo(lambda kept: kept)(value)
        try:
            orjson.dumps(value)
        except orjson.JSONEncodeError:  # integers past 64 bits are not kept
            assert made is value
        else:
            assert isinstance(made, Made)
        assert app.json.response({"data": [made, made]}).get_data() == \
            DefaultJSONProvider(app).response({"data": [value, value]}).get_data()
