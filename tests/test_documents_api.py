"""Documents and chunks through the current API, on both engines, with RAGFlow's answers."""

import io
import time
from urllib.parse import quote

import pytest
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.conftest import Current, issue_key


class Docs(Current):
    """The current API's documents and chunks of one dataset."""

    def __init__(self, client, key, dataset_id):
        super().__init__(client, key)
        self.base = f"{self.URL}/{dataset_id}"

    def upload(self, *files, query=None):
        # Encoded here: the test client would spool a large body to a file it leaves open.
        boundary, body = encode_multipart(MultiDict(
            [("file", FileStorage(io.BytesIO(content), name)) for name, content in files]))
        return self.client.post(f"{self.base}/documents", data=body, query_string=query,
                                headers=self.headers,
                                content_type=f"multipart/form-data; boundary={boundary}")

    def uploaded(self, *files):
        response = self.upload(*files)
        assert response.json["code"] == 0, response.json
        return response.json["data"]

    def docs(self, **params):
        return self.client.get(f"{self.base}/documents", query_string=params,
                               headers=self.headers)

    def doc(self, document_id):
        [record] = self.docs(id=document_id).json["data"]["docs"]
        return record

    def call(self, method, path, body=None):
        return self.client.open(f"{self.base}{path}", method=method, json=body,
                                headers=self.headers)

    def parsed(self, *ids, timeout=20):
        assert self.call("POST", "/chunks", {"document_ids": list(ids)}).json["code"] == 0
        deadline = time.monotonic() + timeout
        while True:
            runs = {self.doc(i)["run"] for i in ids}
            if runs <= {"DONE", "FAIL", "CANCEL"} or time.monotonic() > deadline:
                return [self.doc(i) for i in ids]
            time.sleep(0.05)


@pytest.fixture
def dataset(current):
    return current.made("kb")


@pytest.fixture
def docs(client, key, dataset):
    return Docs(client, key, dataset["id"])


TEXT = "\n".join(f"Line {n} of a plain text document." for n in range(200)).encode()


def test_upload_list_download_round_trip(docs, current, dataset):
    made = docs.uploaded(("a.txt", TEXT), ("a.txt", b"again"), ("notes.md", b"# Notes\n"))
    assert [d["name"] for d in made] == ["a.txt", "a(1).txt", "notes.md"]
    first = made[0]
    assert first["run"] == "UNSTART" and first["dataset_id"] == dataset["id"]
    assert first["size"] == len(TEXT) and first["type"] == "doc" and first["suffix"] == "txt"
    assert set(first) == {"id", "dataset_id", "chunk_method", "pipeline_id", "parser_config",
                          "created_by", "type", "name", "source_type", "suffix", "location",
                          "size", "thumbnail", "run"}
    listed = docs.docs().json
    assert listed["code"] == 0 and listed["data"]["total"] == 3
    assert [d["name"] for d in listed["data"]["docs"]] == ["notes.md", "a(1).txt", "a.txt"]
    assert listed["data"]["docs"][0]["meta_fields"] == {}
    with docs.client.get(f"{docs.base}/documents/{first['id']}", headers=docs.headers) \
            as response:
        assert response.status_code == 200 and response.data == TEXT
    assert response.headers["Content-Disposition"].startswith('attachment; filename="a.txt"')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "text/plain"
    assert current.get(dataset["id"]).json["data"]["document_count"] == 3


def test_upload_refusals(docs, current):
    assert docs.client.post(f"{docs.base}/documents", data={}, headers=docs.headers).json == {
        "code": 101, "message": "No file part!", "data": None}
    long = "x" * 252 + ".txt"
    assert docs.upload((long, b"x")).json["message"] == "File name must be 255 bytes or less."
    answer = docs.upload(("a.exe", b"x")).json
    assert (answer["code"], answer["message"]) == (
        500, "a.exe: This type of file has not been supported yet!")
    answer = docs.upload(("b.txt", b"x"), ("c.zzz", b"y")).json
    assert answer["code"] == 500 and [d["name"] for d in answer["data"]] == ["b.txt"]
    assert docs.upload(("a.txt", b"x"), query={"type": "what"}).json["code"] == 101
    unknown = Docs(docs.client, docs.headers["Authorization"][7:], "f" * 32)
    assert unknown.upload(("a.txt", b"x")).json["message"] == \
        f"Can't find the dataset with ID {'f' * 32}!"
    assert docs.docs().json["data"]["total"] == 1  # nothing of the refused ones is kept


def test_empty_documents_and_their_download(docs):
    response = docs.client.post(f"{docs.base}/documents?type=empty", json={"name": "blank.txt"},
                                headers=docs.headers).json
    assert response["code"] == 0 and response["data"]["name"] == "blank.txt"
    again = docs.client.post(f"{docs.base}/documents?type=empty", json={"name": "blank.txt"},
                             headers=docs.headers).json
    assert again["message"] == "Duplicated document name in the same dataset."
    download = docs.client.get(f"{docs.base}/documents/{response['data']['id']}",
                               headers=docs.headers).json
    assert download == {"code": 102, "message": "This file is empty.", "data": None}


def test_list_filters_and_refusals(docs):
    a, b = docs.uploaded(("a.txt", b"one"), ("b.md", b"two"))
    assert [d["name"] for d in docs.docs(keywords="A.").json["data"]["docs"]] == ["a.txt"]
    assert docs.docs(suffix="md").json["data"]["total"] == 1
    assert docs.docs(run="UNSTART").json["data"]["total"] == 2
    assert docs.docs(run="0").json["data"]["total"] == 2
    assert docs.docs(run="DONE").json["data"]["total"] == 0
    assert docs.docs(run="NOPE").json["message"] == "Invalid filter run status conditions: NOPE"
    assert docs.docs(orderby="size").json["message"] == "invalid orderby field: size"
    assert docs.docs(page_size=101).json["code"] == 101
    assert docs.docs(id="nope").json["message"] == "you don't own the document nope"
    assert docs.docs(name="zz").json["message"] == "you don't own the document zz"
    assert docs.docs(name="b.md").json["data"]["docs"][0]["id"] == b["id"]
    assert [d["name"] for d in docs.docs(orderby="name", desc="false").json["data"]["docs"]] \
        == ["a.txt", "b.md"]
    assert docs.docs(page=2, page_size=1).json["data"]["docs"][0]["id"] == a["id"]


def test_update_rename_metadata_and_method(docs):
    [a] = docs.uploaded(("a.txt", TEXT))
    docs.uploaded(("b.txt", b"other"))
    path = f"/documents/{a['id']}"
    assert docs.call("PATCH", path, {"name": "b.txt"}).json["message"] == \
        "Duplicated document name in the same dataset."
    assert docs.call("PATCH", path, {"name": "a.md"}).json["message"] == \
        "The extension of file can't be changed"
    answer = docs.call("PUT", path, {"name": "c.txt", "meta_fields": {"author": "me"}}).json
    assert answer["code"] == 0 and answer["data"]["name"] == "c.txt"
    assert docs.doc(a["id"])["meta_fields"] == {"author": "me"}
    assert docs.call("PATCH", path, {"enabled": True}).json["message"] == \
        "Field: <enabled> - Message: <Input should be a valid integer> - Value: <True>"
    assert docs.call("PATCH", path, {"chunk_count": 3}).json["message"] == \
        "can't change `chunk_count`"
    assert docs.call("PATCH", path, {"chunk_method": "bogus"}).json["message"] == \
        "Field: <chunk_method> - Message: <`chunk_method` bogus doesn't exist> - Value: <bogus>"
    assert docs.call("PATCH", path, {"enabled": 0}).json["data"]["status"] == "0"
    changed = docs.call("PATCH", path, {"chunk_method": "qa"}).json["data"]
    assert changed["chunk_method"] == "qa" and changed["run"] == "UNSTART"
    assert docs.call("PATCH", "/documents/nope", {}).json["message"] == \
        "the dataset doesn't own the document"


def test_parse_to_done_with_chunks_and_counts(docs, current, dataset):
    [a, b] = docs.uploaded(("a.txt", TEXT), ("b.pdf", b"not a pdf at all"))
    done, failed = docs.parsed(a["id"], b["id"])
    assert done["run"] == "DONE" and done["progress"] == 1.0 and done["chunk_count"] >= 1
    assert failed["run"] == "FAIL" and failed["progress_msg"]
    record = current.get(dataset["id"]).json["data"]
    assert (record["chunk_count"], record["token_num"]) == (done["chunk_count"],
                                                            done["token_count"])
    chunks = docs.call("GET", f"/documents/{a['id']}/chunks").json["data"]
    assert chunks["total"] == done["chunk_count"] and chunks["doc"]["run"] == "DONE"
    assert "Line 0 of a plain text document." in chunks["chunks"][0]["content"]
    one = chunks["chunks"][0]["id"]
    got = docs.call("GET", f"/documents/{a['id']}/chunks/{one}").json["data"]
    assert got["id"] == one and got["doc_id"] == a["id"]
    switched = docs.call("PATCH", f"/documents/{a['id']}/chunks",
                         {"chunk_ids": [one], "available_int": 0}).json
    assert switched["code"] == 0
    assert docs.call("GET", f"/documents/{a['id']}/chunks",
                     ).json["data"]["chunks"][0]["available"] is False
    deleted = docs.call("DELETE", f"/documents/{a['id']}/chunks", {"chunk_ids": [one]}).json
    assert deleted["code"] == 0
    after = docs.doc(a["id"])
    assert after["chunk_count"] == done["chunk_count"] - 1
    assert current.get(dataset["id"]).json["data"]["chunk_count"] == after["chunk_count"]
    missing = docs.call("DELETE", f"/documents/{a['id']}/chunks", {"chunk_ids": ["nope"]}).json
    assert missing["message"] == "rm_chunk deleted chunks 0, expect 1"
    for enabled in (0, 1):  # a document switched off or on switches all its chunks with it
        assert docs.call("PATCH", f"/documents/{a['id']}", {"enabled": enabled}).json["code"] == 0
        listed = docs.call("GET", f"/documents/{a['id']}/chunks").json["data"]["chunks"]
        assert {c["available"] for c in listed} == {bool(enabled)}


def test_parse_and_stop_refusals(docs):
    [a] = docs.uploaded(("a.txt", TEXT))
    assert docs.call("POST", "/chunks", {}).json["message"] == "`document_ids` is required"
    assert docs.call("POST", "/chunks", {"document_ids": ["nope"]}).json["message"] == \
        "Documents not found: ['nope']"
    stop = docs.call("DELETE", "/chunks", {"document_ids": [a["id"]]}).json
    assert stop == {"code": 102, "data": {"error_code": "DOC_STOP_PARSING_INVALID_STATE"},
                    "message": "Can't stop parsing document that has not started or already "
                               "completed"}
    assert docs.call("DELETE", "/chunks", {"document_ids": ["nope"]}).json["message"] == \
        "you don't own the document nope"
    added = docs.call("POST", f"/documents/{a['id']}/chunks", {"content": "x"}).json
    assert added["code"] == 102 and added["message"].startswith("Provider ")


def test_delete_documents_and_counts(docs, current, dataset):
    a, b = docs.uploaded(("a.txt", TEXT), ("b.txt", b"bee"))
    docs.parsed(a["id"])
    assert docs.call("DELETE", "/documents", {}).json["message"] == (
        f"should either provide doc ids or set delete_all(true), dataset: {dataset['id']}. ")
    assert docs.call("DELETE", "/documents", {"ids": [a["id"], "nope"]}).json["message"] == (
        f"These documents do not belong to dataset {dataset['id']} or Document not found: nope")
    assert docs.call("DELETE", "/documents", {"ids": [a["id"]]}).json["data"] == {"deleted": 1}
    record = current.get(dataset["id"]).json["data"]
    assert (record["document_count"], record["chunk_count"], record["token_num"]) == (1, 0, 0)
    assert docs.call("DELETE", "/documents", {"delete_all": True}).json["data"] == {"deleted": 1}
    assert docs.docs().json["data"]["total"] == 0


def test_another_tenants_documents_are_invisible(docs, client, runner, dataset):
    [a] = docs.uploaded(("a.txt", TEXT))
    [done] = docs.parsed(a["id"])
    chunks = f"/documents/{a['id']}/chunks"
    chunk = docs.call("GET", chunks).json["data"]["chunks"][0]["id"]
    stranger = Docs(client, issue_key(runner), dataset["id"])
    assert stranger.docs().json["code"] == 102
    assert stranger.upload(("x.txt", b"x")).json["code"] == 102
    for method, path, body in [("GET", f"/documents/{a['id']}", None),
                               ("PATCH", f"/documents/{a['id']}", {"name": "b.txt"}),
                               ("DELETE", "/documents", {"ids": [a["id"]]}),
                               ("POST", "/chunks", {"document_ids": [a["id"]]}),
                               ("DELETE", "/chunks", {"document_ids": [a["id"]]}),
                               ("GET", chunks, None), ("GET", f"{chunks}/{chunk}", None),
                               ("DELETE", chunks, {"chunk_ids": [chunk]}),
                               ("PATCH", chunks, {"chunk_ids": [chunk], "available_int": 0}),
                               ("PUT", f"{chunks}/{chunk}", {"available": False}),
                               ("POST", chunks, {"content": "x"})]:
        answer = stranger.call(method, path, body).json
        assert answer["code"] == 102 and "success" not in answer["message"], (method, path)
        assert a["id"] not in str(answer["data"]) and "Line 0" not in str(answer["data"])
    after = docs.doc(a["id"])
    assert (after["name"], after["run"], after["chunk_count"]) == ("a.txt", "DONE",
                                                                   done["chunk_count"])
    assert docs.call("GET", f"{chunks}/{chunk}").json["data"]["available_int"] == 1


def test_counts_are_real_on_both_apis(docs, current, api, dataset):
    a, b, _ = docs.uploaded(("a.txt", TEXT), ("b.txt", b"bee"), ("c.txt", b"sea"))
    done, _ = docs.parsed(a["id"], b["id"])
    got = current.get(dataset["id"]).json["data"]
    assert got["size"] == len(TEXT) + 6
    assert (got["document_count"], got["chunk_count"], got["token_num"]) == (
        3, done["chunk_count"] + 1, done["token_count"] + docs.doc(b["id"])["token_count"])
    [listed] = current.list(include_parsing_status="true").json["data"]
    assert listed["parsing_status"] == {"unstart_count": 1, "running_count": 0,
                                        "cancel_count": 0, "done_count": 2, "fail_count": 0}
    [legacy] = api.list().json["data"]
    assert (legacy["doc_num"], legacy["chunk_num"], legacy["token_num"]) == (
        got["document_count"], got["chunk_count"], got["token_num"])
    current.delete(ids=[dataset["id"]])
    assert docs.client.get(f"{docs.base}/documents/{a['id']}", headers=docs.headers).json[
        "message"] == "document not found"


def test_limits_refuse_in_the_envelope_and_leave_nothing(config, tmp_path):
    from app import create_app

    app = create_app({**config, "DOCUMENT_SIZE_LIMIT": 1 << 20, "TENANT_DOCUMENT_LIMIT": 2,
                      "UPLOAD_FILE_LIMIT": 2})
    key = issue_key(app.test_cli_runner())
    dataset = Current(app.test_client(), key).made("limits")
    docs = Docs(app.test_client(), key, dataset["id"])
    answer = docs.upload(("big.txt", b"x" * (2 << 20)), ("small.txt", b"y")).json
    assert answer["code"] == 500 and answer["message"] == \
        "big.txt: File size exceeds( <= 1Mb )"
    assert [d["name"] for d in answer["data"]] == ["small.txt"]
    assert docs.upload(*[(f"{n}.txt", b"x") for n in range(3)]).json["message"] == \
        "At most 2 files in one upload."
    store = app.extensions["store"]
    assert store.collect(grace=0) == 0  # the refused files' bytes were never kept
    docs.uploaded(("second.txt", b"z"))
    assert docs.upload(("third.txt", b"w")).json["message"] == \
        "Exceed the maximum file number of a free user!"
    assert docs.docs().json["data"]["total"] == 2


def test_a_name_is_only_a_name(docs, config, tmp_path):
    names = ["../../escape.txt", "/etc/passwd.txt", "it's; name=x.txt", "ünï cødé.txt"]
    made = docs.uploaded(*[(name, name.encode()) for name in names])
    assert [d["name"] for d in made] == names
    for record in made:
        with docs.client.get(f"{docs.base}/documents/{record['id']}", headers=docs.headers) \
                as response:
            assert response.data == record["name"].encode()
            disposition = response.headers["Content-Disposition"]
        fallback = disposition.split('filename="')[1].split('"')[0]
        assert '"' not in fallback and "\\" not in fallback
        assert disposition.endswith("filename*=UTF-8''" + quote(record["name"], safe=""))
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path.parent / "escape.txt").exists()
    if not config.get("DATABASE_URL"):  # the JSON engine: files named by hex ids alone
        stored = [p.name for p in (tmp_path / "db.json.files").glob("*/*")]
        assert len(stored) == 4 and all(len(name) == 32 for name in stored)


def test_chunks_in_pages(docs):
    [a] = docs.uploaded(("a.txt", "\n".join(f"Paragraph {n}: " + "word " * 300
                                            for n in range(12)).encode()))
    [done] = docs.parsed(a["id"])
    path = f"/documents/{a['id']}/chunks"
    every = docs.call("GET", path + "?page_size=100").json["data"]
    assert every["total"] == done["chunk_count"] > 3
    second = docs.call("GET", path + "?page=2&page_size=2").json["data"]
    assert second["total"] == every["total"] and second["chunks"] == every["chunks"][2:4]
    docs.call("PATCH", path, {"chunk_ids": [every["chunks"][0]["id"]], "available_int": 0})
    off = docs.call("GET", path + "?available=false").json["data"]
    assert off["total"] == 1 and off["chunks"][0]["id"] == every["chunks"][0]["id"]
    on = docs.call("GET", path + "?available=true&page=1&page_size=2").json["data"]
    assert on["total"] == every["total"] - 1 and on["chunks"] == every["chunks"][1:3]
