"""Today's client, the real `ragflow-sdk`, against this server over HTTP."""

import os

import pytest

try:
    from ragflow_sdk import DataSet
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("ragflow-sdk is not installed (make installs it)", allow_module_level=True)


def names(datasets):
    return [dataset.name for dataset in datasets]


def test_create_with_every_option(rag):
    config = DataSet.ParserConfig(rag, {"chunk_token_num": 256, "raptor": {"use_raptor": True},
                                        "graphrag": {"use_graphrag": True, "method": "general"},
                                        "parent_child": {"use_parent_child": True}})
    dataset = rag.create_dataset("kb", avatar="data:image/png;base64,iVBORw0KGgo=",
                                 description="about", permission="team",
                                 embedding_model="BAAI/bge-small-en-v1.5@Local@Builtin",
                                 chunk_method="manual", parser_config=config)
    assert (dataset.name, dataset.description, dataset.permission, dataset.chunk_method) == \
        ("kb", "about", "team", "manual")
    assert len(dataset.id) == 32 and dataset.document_count == dataset.chunk_count == 0
    parser = dataset.parser_config.to_json()
    assert (parser["chunk_token_num"], parser["raptor"]["use_raptor"],
            parser["graphrag"]["method"], parser["parent_child"]["use_parent_child"]) == \
        (256, True, "general", True)
    assert rag.create_dataset("KB").name == "KB(1)"


def test_list_with_every_filter_and_page(rag):
    made = [rag.create_dataset(f"kb{n}") for n in range(5)]
    assert names(rag.list_datasets()) == ["kb4", "kb3", "kb2", "kb1", "kb0"]
    assert names(rag.list_datasets(page=2, page_size=2)) == ["kb2", "kb1"]
    assert names(rag.list_datasets(desc=False, page_size=3)) == ["kb0", "kb1", "kb2"]
    assert names(rag.list_datasets(orderby="update_time", page_size=1)) == ["kb4"]
    assert names(rag.list_datasets(name="KB2")) == ["kb2"]
    assert names(rag.list_datasets(id=made[3].id)) == ["kb3"]
    assert rag.get_dataset(name="kb1").id == made[1].id


@pytest.mark.parametrize("change", [
    {"name": "renamed"}, {"avatar": "data:image/jpeg;base64,/9j/"}, {"description": "new"},
    {"embedding_model": "BAAI/bge-small-en-v1.5@Builtin"}, {"permission": "team"},
    {"chunk_method": "qa"}, {"pagerank": 50}, {"language": "Chinese"},
    {"parser_config": {"auto_keywords": 5}},
])
def test_update_each_field(rag, change):
    dataset = rag.create_dataset("kb").update(change)
    [listed] = rag.list_datasets()
    for field, value in change.items():
        if field == "parser_config":
            assert dataset.parser_config.auto_keywords == listed.parser_config.auto_keywords == 5
        else:
            assert getattr(listed, field, value) == value
            assert getattr(dataset, field, value) == value


def test_delete_some_and_all(rag):
    made = [rag.create_dataset(f"kb{n}") for n in range(4)]
    rag.delete_datasets(ids=[made[0].id, made[2].id])
    assert names(rag.list_datasets()) == ["kb3", "kb1"]
    rag.delete_datasets(ids=[])
    assert len(rag.list_datasets()) == 2
    rag.delete_datasets(delete_all=True)
    assert rag.list_datasets() == []


@pytest.mark.parametrize("call, message", [
    (lambda rag: rag.create_dataset(""), "Field: <name> - Message: <String should have at least "
                                         "1 character> - Value: <>"),
    (lambda rag: rag.create_dataset("kb", permission="all"), "Input should be 'me' or 'team'"),
    (lambda rag: rag.create_dataset("kb", chunk_method="nope"), "Input should be 'naive', "),
    (lambda rag: rag.create_dataset("kb", embedding_model="x@Builtin"),
     "Model x@Builtin not found for model embedding"),
    (lambda rag: rag.create_dataset("kb", parser_config=DataSet.ParserConfig(
        rag, {"chunk_token_num": 0})), "Field: <parser_config.chunk_token_num>"),
    (lambda rag: rag.list_datasets(page_size=101), "Input should be less than or equal to 100"),
    (lambda rag: rag.list_datasets(orderby="name"), "Input should be 'create_time' or "),
    (lambda rag: rag.list_datasets(id="nope"), "Invalid UUID format"),
    (lambda rag: rag.get_dataset(name="nope"), "lacks permission for dataset 'nope'"),
    (lambda rag: rag.delete_datasets(ids=["0" * 32]), "lacks permission for datasets: "),
    (lambda rag: rag.delete_datasets(ids=["nope"]), "Invalid UUID format"),
    (lambda rag: rag.create_dataset("kb").update({"name": "x" * 129}),
     "String should have at most 128 characters"),
    (lambda rag: rag.create_dataset("kb").update({"pagerank": 101}),
     "Input should be less than or equal to 100"),
    (lambda rag: rag.create_dataset("kb").update({}), "no properties were modified"),
    (lambda rag: [rag.create_dataset("a"), rag.create_dataset("b").update({"name": "A"})],
     "Dataset name 'A' already exists"),
])
def test_errors_the_sdk_raises(rag, call, message):
    with pytest.raises(Exception, match=None) as raised:
        call(rag)
    assert message in str(raised.value)


def test_a_wrong_key(rag):
    rag.authorization_header = {"Authorization": "Bearer ragflow-nope"}
    with pytest.raises(Exception, match="<Unauthorized '401: Unauthorized'>"):
        rag.list_datasets()
