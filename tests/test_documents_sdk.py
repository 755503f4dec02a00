"""ragflow-sdk's DataSet and Document methods against the server, unchanged, on both engines."""

import pytest

TEXT = "\n".join(f"Paragraph {n}: the quick brown fox jumps over the lazy dog." for n in range(300))


@pytest.fixture
def dataset(rag):
    return rag.create_dataset(name="sdk-docs")


def test_upload_parse_list_chunks_download_delete(dataset):
    uploaded = dataset.upload_documents([
        {"display_name": "fox.txt", "blob": TEXT.encode()},
        {"display_name": "fox.txt", "blob": b"second"},
        {"display_name": "broken.pdf", "blob": b"%PDF-1.4 not really"}])
    assert [d.name for d in uploaded] == ["fox.txt", "fox(1).txt", "broken.pdf"]
    fox, second, broken = uploaded
    assert fox.run == "UNSTART" and fox.dataset_id == dataset.id
    results = dataset.parse_documents([fox.id, broken.id])
    by_id = {doc_id: (run, chunks, tokens) for doc_id, run, chunks, tokens in results}
    assert by_id[fox.id][0] == "DONE" and by_id[fox.id][1] > 1 and by_id[fox.id][2] > 0
    assert by_id[broken.id][0] == "FAIL"
    [listed] = dataset.list_documents(id=fox.id)
    assert (listed.run, listed.chunk_count) == ("DONE", by_id[fox.id][1])
    assert listed.chunk_count == len(fox.list_chunks(page_size=100))
    chunks = fox.list_chunks(keywords="Paragraph 299")
    assert chunks and "Paragraph 299" in chunks[0].content
    assert fox.download() == TEXT.encode()
    fox.delete_chunks([chunks[0].id])
    assert dataset.list_documents(id=fox.id)[0].chunk_count == by_id[fox.id][1] - 1
    fox.update({"name": "renamed.txt", "meta_fields": {"source": "tests"}})
    [renamed] = dataset.list_documents(name="renamed.txt")
    assert renamed.meta_fields.source == "tests"  # the SDK makes objects of dicts
    with pytest.raises(Exception, match="Duplicated document name in the same dataset."):
        second.update({"name": "renamed.txt"})
    dataset.delete_documents(ids=[second.id, broken.id])
    assert [d.name for d in dataset.list_documents()] == ["renamed.txt"]
    with pytest.raises(Exception, match="should either provide doc ids"):
        dataset.delete_documents()
    dataset.delete_documents(delete_all=True)
    assert dataset.list_documents() == []


def test_cancel_and_refusals(dataset):
    [doc] = dataset.upload_documents([{"display_name": "a.txt", "blob": TEXT.encode()}])
    with pytest.raises(Exception, match="Can't stop parsing document that has not started"):
        dataset.async_cancel_parse_documents([doc.id])
    with pytest.raises(Exception, match=r"Documents not found: \['nope'\]"):
        dataset.async_parse_documents(["nope"])
    with pytest.raises(Exception, match="This type of file has not been supported yet!"):
        dataset.upload_documents([{"display_name": "a.exe", "blob": b"MZ"}])
    with pytest.raises(Exception, match="not found for model"):
        doc.add_chunk("a chunk by hand")
    dataset.async_parse_documents([doc.id])
    try:
        dataset.async_cancel_parse_documents([doc.id])
    except Exception as err:  # the parse may already be done: then it is not RUNNING
        assert "has not started or already completed" in str(err)
    [after] = dataset.list_documents(id=doc.id)
    assert after.run in ("CANCEL", "DONE")
    if after.run == "CANCEL":
        assert after.chunk_count == 0 and doc.list_chunks() == []
