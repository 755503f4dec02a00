"""The rules of documents and chunks every engine follows: fields, names, states, changes."""

import os
import re
import time
import uuid

from app.store import rules

# A document's run states, as RAGFlow stores them (its answers name them: RUN_NAMES).
UNSTART, RUNNING, CANCEL, DONE, FAIL = "0", "1", "2", "3", "4"
RUN_NAMES = {UNSTART: "UNSTART", RUNNING: "RUNNING", CANCEL: "CANCEL", DONE: "DONE",
             FAIL: "FAIL"}
ATTEMPTS = 3  # parses of one document cut short (a worker killed) before it is FAIL
PIECE = 1 << 20  # bytes of a file read or written at a time

# A document's own fields, with their defaults (RAGFlow's Document, under its API's names).
DOCUMENT_FIELDS = {
    "name": None,
    "location": None,  # the name of its bytes in the store (never a path)
    "size": 0,
    "type": "doc",
    "suffix": "",
    "source_type": "local",
    "thumbnail": "",
    "chunk_method": "naive",
    "pipeline_id": None,
    "parser_config": {},
    "meta_fields": {},
    "status": "1",
    "run": UNSTART,
    "progress": 0.0,
    "progress_msg": "",
    "process_begin_at": None,  # ms
    "process_duration": 0.0,  # s
    "chunk_count": 0,
    "token_count": 0,
}
# Kept for the parse queue beside a document's own fields, never shown: who holds its parse
# (a claim token) until when (ms), and how many parses of it were started.
QUEUE_FIELDS = {"claim": None, "claimed_until": 0, "attempts": 0}


def new_document(fields):
    """A document's stored fields: the defaults, with `fields` over them."""
    unknown = set(fields) - set(DOCUMENT_FIELDS)
    if unknown:
        raise ValueError(f"unknown document fields: {sorted(unknown)}")
    return {**DOCUMENT_FIELDS, **QUEUE_FIELDS, **rules.copied(fields)}


def shown(record):
    """The record without what only the parse queue reads."""
    return {key: value for key, value in record.items() if key not in QUEUE_FIELDS}


NUMBERED = re.compile(r"(.*)\(([0-9]+)\)", re.DOTALL)


def name_parts(name):
    """(base, n, ext) of `stem(n).ext`, or (stem, 0, ext): what free_name counts on from."""
    stem, ext = os.path.splitext(name)
    match = NUMBERED.fullmatch(stem)
    return (match[1], int(match[2]), ext) if match else (stem, 0, ext)


def free_name(name, taken):
    """`name`, or the next of `base(n+1).ext`, `base(n+2).ext`... not in `taken` (RAGFlow's)."""
    base, n, ext = name_parts(name)
    candidate = name
    while candidate in taken:
        n += 1
        candidate = f"{base}({n}){ext}"
    return candidate


def new_chunk(document, content, tokens, position, now):
    """A chunk of `document` as parsing makes it."""
    return {"id": uuid.uuid4().hex, "document_id": document["id"],
            "dataset_id": document["dataset_id"], "content": content, "token_count": tokens,
            "available": True, "important_keywords": [], "questions": [], "positions": [],
            "image_id": "", "position": position, "create_time": now}


def matches(record, query):
    """Whether a document matches a list's filters (Store.list_documents)."""
    return ((query.get("ids") is None or record["id"] in query["ids"])
            and (query.get("name") is None or record["name"] == query["name"])
            and (query.get("keywords") is None
                 or query["keywords"].lower() in record["name"].lower())
            and (query.get("suffixes") is None or record["suffix"] in query["suffixes"])
            and (query.get("runs") is None or record["run"] in query["runs"])
            and (query.get("created_from") is None
                 or record["create_time"] >= query["created_from"])
            and (query.get("created_to") is None
                 or record["create_time"] <= query["created_to"]))


def ordered(records, orderby, desc):
    """`records` (in creation order) by `orderby`, ties in creation order, reversed if `desc`."""
    pairs = sorted(((r, n) for n, r in enumerate(records)), key=rules.sort_key(orderby),
                   reverse=desc)
    return [record for record, _ in pairs]


def patched(record, patch):
    """A document after a rules.Patch; a new chunk method clears its parse (RAGFlow's rule)."""
    new = rules.patched(record, patch)
    if new["chunk_method"] != record["chunk_method"] or "pipeline_id" in patch.fields and \
            new["pipeline_id"] != record["pipeline_id"]:
        new.update(unparsed())
    return new


def unparsed():
    """The fields of a document with no parse and no chunks."""
    return {"run": UNSTART, "progress": 0.0, "progress_msg": "", "process_begin_at": None,
            "process_duration": 0.0, "chunk_count": 0, "token_count": 0, **QUEUE_FIELDS}


def queued(now):
    """The fields of a document whose parse is asked for: RUNNING, no chunks, unclaimed."""
    return {**unparsed(), "run": RUNNING, "process_begin_at": now,
            "progress_msg": f"{clock(now)} Task has been received."}


def claimed(record, claim, until, now):
    """The fields of a queued document a parser takes (claim token, held until `until`)."""
    return {"claim": claim, "claimed_until": until, "attempts": record["attempts"] + 1,
            "progress": 0.1, "progress_msg": record["progress_msg"]
            + f"\n{clock(now)} Parsing started."}


def switched(old, new):
    """What a change of a document's `status` makes all its chunks' `available`, or None."""
    return None if new["status"] == old["status"] else new["status"] == "1"


def held(record, claim):
    """Whether the parse of `record` (None: no document) is still the one `claim` holds."""
    return record is not None and record["run"] == RUNNING and record["claim"] == claim


def claimable(record, now):
    """Whether a parser may take the document now: RUNNING and not held."""
    return record["run"] == RUNNING and record["claimed_until"] <= now


def given_up(record, now):
    """The fields of a document whose parses were all cut short: FAIL, with why."""
    return finished(record, None, f"The parse was cut short {ATTEMPTS} times; giving up.", now)


def finished(record, chunks, error, now):
    """The fields of a document whose parse ended: DONE with its chunks, or FAIL with `error`."""
    if error is not None:
        return {**QUEUE_FIELDS, "run": FAIL, "progress": -1.0,
                "process_duration": seconds(record, now),
                "progress_msg": record["progress_msg"] + f"\n{clock(now)} [ERROR]{error}"}
    return {**QUEUE_FIELDS, "run": DONE, "progress": 1.0, "process_duration": seconds(record, now),
            "chunk_count": len(chunks), "token_count": sum(c["token_count"] for c in chunks),
            "progress_msg": record["progress_msg"]
            + f"\n{clock(now)} Parsing finished: {len(chunks)} chunks."}


def cancelled(record, now):
    """The fields of a document whose parse is stopped: CANCEL, no chunks."""
    return {**unparsed(), "run": CANCEL, "process_begin_at": record["process_begin_at"],
            "process_duration": seconds(record, now),
            "progress_msg": record["progress_msg"] + f"\n{clock(now)} Parsing cancelled."}


def seconds(record, now):
    begun = record["process_begin_at"]
    return round((now - begun) / 1000, 3) if begun else 0.0


def clock(now):
    """A progress line's time, as RAGFlow writes it (HH:MM:SS)."""
    return time.strftime("%H:%M:%S", time.localtime(now / 1000))


def recount(dataset, old, new):
    """A dataset's counts after one of its documents went from `old` to `new` (None: none)."""
    def each(record, field):
        return 0 if record is None else record[field]

    return {"document_count": dataset["document_count"] + (new is not None) - (old is not None),
            "chunk_count": dataset["chunk_count"] + each(new, "chunk_count")
            - each(old, "chunk_count"),
            "token_num": dataset["token_num"] + each(new, "token_count")
            - each(old, "token_count")}


def own_fields(record):
    """The document's own fields (DOCUMENT_FIELDS) of a record."""
    return {field: record[field] for field in DOCUMENT_FIELDS}
