"""The model-free parser: every format from real bytes, RAGFlow's naive chunking, cl100k counts.

What follows RAGFlow v0.27.0 (rag/nlp naive_merge and its text parser): a delimiter is always
a chunk boundary; pieces merge while the chunk's running token sum is within chunk_token_num
(so a chunk passes it by its last piece), a piece larger than that is a chunk of its own, whole;
a "\\n" before every piece; backticked delimiters making every piece a chunk of its own; the
overlap as the last characters of the chunk before; CSV rows as "header：value; ... ——Data".
What is simplified: no layout model (PDF is pypdf's text, line by line), DOCX tables as lines
of text in document order, Markdown split as plain text, HTML as the text of its blocks.
"""
import gzip
import io
import json
import socket

import docx
import pytest
import tiktoken_ext.openai_public
from hypothesis import given, settings, strategies as st

from app.parsing import SUFFIXES, Unreadable, count_tokens, parse
from app.parsing import tokens

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None)


def contents(chunks):
    """The chunks' texts, after checking that each count is the chunk's own."""
    for text, count in chunks:
        assert count == count_tokens(text)
    return [text for text, _ in chunks]


# --- token counts -------------------------------------------------------------------------

@pytest.mark.parametrize("text, ids", [
    ("hello world, this is RAGFlow", [15339, 1917, 11, 420, 374, 432, 1929, 19410]),
    ("tiktoken is great!", [83, 1609, 5963, 374, 2294, 0]),
    ("", []),
])
def test_counts_are_cl100k_base(text, ids):
    assert tokens.encoding().encode_ordinary(text) == ids
    assert count_tokens(text) == len(ids)


def test_special_token_text_counts_as_text():
    assert count_tokens("<|endoftext|>") == 7


def test_the_encoding_is_built_offline_from_the_shipped_file(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the encoding reached for the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    encoding = tokens.encoding.__wrapped__()  # a new one, not the cached one
    assert encoding.encode_ordinary("hello world, this is RAGFlow")[:2] == [15339, 1917]
    assert encoding.n_vocab == 100277


def test_pattern_and_special_tokens_are_tiktokens_own(monkeypatch):
    ranks = tokens.load_ranks()
    monkeypatch.setattr(tiktoken_ext.openai_public, "load_tiktoken_bpe", lambda *a, **k: ranks)
    upstream = tiktoken_ext.openai_public.cl100k_base()
    assert upstream["pat_str"] == tokens.PATTERN
    assert upstream["special_tokens"] == tokens.SPECIAL_TOKENS


def test_a_damaged_ranks_file_is_refused(monkeypatch, tmp_path):
    damaged = tmp_path / "cl100k_base.tiktoken.gz"
    data = gzip.decompress(tokens.RANKS_FILE.read_bytes()).replace(b" 100\n", b" 101\n", 1)
    damaged.write_bytes(gzip.compress(data))
    monkeypatch.setattr(tokens, "RANKS_FILE", damaged)
    with pytest.raises(RuntimeError, match="not cl100k_base"):
        tokens.load_ranks()


# --- plain text and its decoding -----------------------------------------------------------

def test_lines_merge_into_one_chunk_led_by_a_line_break():
    assert contents(parse(b"line one\nline two\n\nline three", "notes.txt", {})) == [
        "\nline one\nline two\nline three"]


@pytest.mark.parametrize("data", [
    "naïve café\n".encode("utf-8"),
    "naïve café\n".encode("utf-8-sig"),
    "naïve café\n".encode("utf-16"),
    "naïve café\n".encode("utf-32"),
    "naïve café €\n".encode("cp1252"),
])
def test_text_decodes_by_its_mark_or_utf8_or_windows_1252(data):
    assert contents(parse(data, "a.txt", {}))[0].startswith("\nnaïve café")


def test_gb18030_text_reads_as_ragflow_reads_it():
    text = "你好，世界\n第二行"
    assert contents(parse(text.encode("gbk"), "a.txt", {})) == ["\n" + text]


@pytest.mark.parametrize("data, message", [
    (b"PK\x03\x04\x00\x00binary", "binary"),
    ("text".encode("utf-16-le"), "binary"),  # UTF-16 without its mark
    (b"caf\xe9 \x81", "not text in UTF-8"),
])
def test_bytes_that_are_not_text_are_unreadable(data, message):
    with pytest.raises(Unreadable, match=message):
        parse(data, "a.txt", {})


@pytest.mark.parametrize("name", ["sheet.xlsx", "slides.pptx", "notes", "a.doc", "config.yml"])
@pytest.mark.parametrize("data", [b"anything", b"PK\x03\x04\x14\x00\x00\x00\x08\x00"])
def test_a_type_the_naive_method_does_not_read_is_unreadable(name, data):
    with pytest.raises(Unreadable, match=r"^file type not supported yet\(pdf, xlsx, doc"):
        parse(data, name, {})


def test_suffixes():
    assert {"txt", "md", "py", "html", "csv", "json", "jsonl", "pdf", "docx"} <= SUFFIXES
    assert not {"xlsx", "doc", "pptx", ""} & SUFFIXES
    assert contents(parse(b"x = 1\n", "Script.PY", {})) == ["\nx = 1"]


def test_characters_no_store_keeps_are_dropped():
    data = json.dumps({"a": "x\u0000y\ud800z"}).encode()
    assert contents(parse(data, "a.json", {})) == ['\n{"a": "x\\u0000yz"}']


# --- RAGFlow's naive chunking --------------------------------------------------------------

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
LINES = [" ".join(WORDS[i % 12:] + WORDS[:i % 12][: i % 5]) + "." for i in range(60)]
TEXT = "\n".join(LINES).encode()


def sizes(chunk):
    """The token counts of a chunk's lines, each with the line break RAGFlow puts before it."""
    return [count_tokens("\n" + line) for line in chunk.split("\n")[1:]]


def test_lines_merge_while_the_chunk_is_within_the_budget():
    lines = ["one two three", "four five six", "seven eight nine", "ten"]  # 4, 4, 4, 2 tokens
    chunks = contents(parse("\n".join(lines).encode(), "a.txt", {"chunk_token_num": 8}))
    # Two lines make 8 tokens, within the budget, so the third joins them and passes it;
    # only then is the chunk closed.
    assert chunks == ["\none two three\nfour five six\nseven eight nine", "\nten"]


@pytest.mark.parametrize("budget", [8, 30, 64, 128, 512])
def test_chunks_close_once_past_the_budget_keeping_every_line_in_order(budget):
    chunks = contents(parse(TEXT, "a.txt", {"chunk_token_num": budget}))
    assert "".join(chunks).split("\n")[1:] == LINES
    for chunk, after in zip(chunks, chunks[1:] + [None]):
        lines = sizes(chunk)
        assert sum(lines[:-1]) <= budget  # within the budget before its last line
        if after is not None:  # closed only once past it, or before a line too large alone
            assert sum(lines) > budget or sizes(after)[0] > budget


def test_a_piece_larger_than_the_budget_is_a_chunk_of_its_own_whole():
    long_line = " ".join(["word"] * 40)
    data = f"short\nalso short\n{long_line}\nafter".encode()
    chunks = contents(parse(data, "a.txt", {"chunk_token_num": 10}))
    assert chunks == ["\nshort\nalso short", "\n" + long_line, "\nafter"]
    word = "x" * 5000
    assert contents(parse(word.encode(), "a.txt", {"chunk_token_num": 10})) == ["\n" + word]


def test_the_delimiter_splits_the_text():
    data = b"first clause; second clause; third clause"
    # A text file's pieces are joined by line breaks first, as RAGFlow's text parser joins them.
    assert contents(parse(data, "a.txt", {"delimiter": ";"})) == [
        "\nfirst clause\n second clause\n third clause"]
    page = b"<p>first clause; second clause; third clause</p>"
    assert contents(parse(page, "a.html", {"delimiter": ";", "chunk_token_num": 3})) == [
        "\nfirst clause\n second clause", "\n third clause"]


def test_a_backslash_n_typed_out_is_a_line_break():
    data = b"a b c\nd e f"
    assert parse(data, "a.txt", {"delimiter": "\\n", "chunk_token_num": 3}) == parse(
        data, "a.txt", {"delimiter": "\n", "chunk_token_num": 3})


def test_backticked_delimiters_make_every_piece_a_chunk_whatever_the_budget():
    data = "# Intro\ntext one\n## Part\ntext two that is long\n## End".encode()
    chunks = contents(parse(data, "a.md", {"delimiter": "`##`", "chunk_token_num": 2}))
    assert chunks == ["\n# Intro\ntext one\n", "\n Part\ntext two that is long\n", "\n End"]
    # Characters outside the backticks are delimiters too; the longest is tried first.
    chunks = contents(parse(data, "a.md", {"delimiter": "\n`##`#"}))
    assert chunks == ["\n Intro", "\ntext one", "\n Part", "\ntext two that is long", "\n End"]


@pytest.mark.parametrize("percent", [10, 50])
def test_overlap_repeats_the_end_of_the_chunk_before(percent):
    page = "".join(f"<p>{line}</p>" for line in LINES).encode()  # a section per line
    config = {"chunk_token_num": 64, "overlapped_percent": percent}
    chunks = contents(parse(page, "a.html", config))
    without = contents(parse(page, "a.html", {"chunk_token_num": 64}))
    assert len(chunks) > len(without) > 3  # closed earlier, leaving room for the overlap
    for before, after in zip(chunks, chunks[1:]):
        tail = before[int(len(before) * (100 - percent) / 100):]
        assert after.startswith(tail + "\n") and tail
    own = chunks[:1] + [
        after[len(before) - int(len(before) * (100 - percent) / 100):]
        for before, after in zip(chunks, chunks[1:])]
    assert "".join(own).split("\n")[1:] == LINES


@pytest.mark.parametrize("config", [{}, {"chunk_token_num": None}, {"chunk_token_num": "x"},
                                    {"delimiter": ""}, {"overlapped_percent": "x"}])
def test_missing_or_odd_settings_take_ragflows_defaults(config):
    assert parse(TEXT, "a.txt", config) == parse(TEXT, "a.txt", {
        "chunk_token_num": 512, "delimiter": "\n", "overlapped_percent": 0})


def test_blank_chunks_are_dropped():
    assert parse(b"\n\n   \n", "a.txt", {}) == []
    assert parse(b"", "a.txt", {}) == []


# --- the other formats ---------------------------------------------------------------------

def test_markdown_is_split_as_text():
    data = b"# Title\n\nSome *text*.\n\n- item one\n- item two\n"
    assert contents(parse(data, "README.md", {})) == [
        "\n# Title\nSome *text*.\n- item one\n- item two"]


def test_html_gives_the_text_of_its_blocks():
    page = b"""<!doctype html><html><head><title>The page</title>
        <style>p { color: red }</style><script>var x = "<p>no</p>";</script></head>
        <body><h1>Heading</h1><p>First   paragraph,<br>next line &amp; more.</p>
        <!-- a comment --><ul><li>one</li><li>two</li></ul>
        <table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>
        <pre>def f():\n    return 1</pre><noscript>enable it</noscript></body></html>"""
    assert contents(parse(page, "page.html", {})) == [
        "\nThe page\nHeading\nFirst paragraph,\nnext line & more.\none\ntwo\na b\n1 2"
        "\ndef f():\n    return 1"]


def test_csv_rows_read_as_ragflow_writes_them():
    data = "name,age,,city\nAnn,31,x,\n,,,\nBob,,,Paris\ntoo,many,cells,here,!\n".encode()
    assert contents(parse(data, "people.csv", {})) == [
        "\nname：Ann; age：31; Unnamed: 2：x ——Data\nname：Bob; city：Paris ——Data"]


def test_csv_rows_merge_up_to_the_budget():
    data = "id,text\n" + "".join(f"{i},some words in row {i}\n" for i in range(40))
    chunks = contents(parse(data.encode(), "rows.csv", {"chunk_token_num": 40}))
    assert len(chunks) > 5 and all(sum(sizes(text)[:-1]) <= 40 < sum(sizes(text))
                                   for text in chunks[:-1])
    assert chunks[0].startswith("\nid：0; text：some words in row 0 ——Data\nid：1;")


def test_json_is_cut_into_objects_keeping_their_keys():
    document = {"name": "kb", "tags": ["a", "b"], "items": [{"n": i, "text": "x" * 30}
                                                          for i in range(12)]}
    chunks = contents(parse(json.dumps(document).encode(), "data.json", {"chunk_token_num": 64}))
    assert chunks[0].startswith('\n{"name": "kb", "tags": {"0": "a", "1": "b"}, "items": {"0":')
    pieces = [json.loads(line) for text in chunks for line in text.split("\n")[1:]]
    assert all(set(piece) <= {"name", "tags", "items"} for piece in pieces)
    items = {k: v for piece in pieces for k, v in piece.get("items", {}).items()}
    assert items == {str(i): {"n": i, "text": "x" * 30} for i in range(12)}
    assert len(chunks) > 3


def test_json_lines_and_their_bad_lines():
    data = b'{"a": 1}\n{"b": [true, null]}\n\n{"c": 0}\nnot json\n{"d": 1}\n'
    assert contents(parse(data, "a.jsonl", {})) == [
        '\n{"a": 1}\n{"b": {"0": true, "1": null}}\n{"c": 0}\n{"d": 1}']


@pytest.mark.parametrize("data, message", [
    (b"{not json", "not valid JSON"), (b"", "not valid JSON"), (b"one\ntwo", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
])
def test_text_that_is_not_json_is_unreadable(data, message):
    with pytest.raises(Unreadable, match=message):
        parse(data, "a.json", {})


def pdf(*pages):
    """A PDF with a page per list of lines, in Helvetica, written out by hand."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for lines in pages:
        shown = b" ".join(b"(%s) '" % line.encode("latin-1") for line in lines)
        stream = b"BT /F1 12 Tf 72 720 Td 14 TL " + shown + b" ET"
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources"
                       b" << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % len(objects))
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def test_pdf_text_is_read_line_by_line():
    data = pdf(["Hello from page one.", "A second line."], ["Page two says goodbye."])
    assert contents(parse(data, "report.pdf", {})) == [
        "\nHello from page one.\nA second line.\nPage two says goodbye."]
    chunks = contents(parse(data, "report.pdf", {"chunk_token_num": 6}))
    assert chunks == ["\nHello from page one.\nA second line.", "\nPage two says goodbye."]


def docx_bytes():
    document = docx.Document()
    document.add_heading("Quarterly notes", level=1)
    document.add_paragraph("The first paragraph.")
    document.add_paragraph("   ")
    table = document.add_table(rows=3, cols=3)
    for row, cells in zip(table.rows, [("name", "age", "city"), ("Ann", "31", "Oslo")]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    table.cell(2, 0).merge(table.cell(2, 2)).text = "merged"
    document.add_paragraph("After\u3000the table.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_paragraphs_and_tables_in_document_order():
    assert contents(parse(docx_bytes(), "notes.docx", {})) == [
        "\nQuarterly notes\nThe first paragraph.\nname | age | city\nAnn | 31 | Oslo\nmerged"
        "\nAfter the table."]


@pytest.mark.parametrize("name, data, message", [
    ("a.pdf", b"not a pdf at all", "This PDF cannot be read: "),
    ("a.pdf", pdf(["Hello"])[:60], "This PDF cannot be read: "),
    ("a.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 4, "This PDF cannot be read: "),
    ("a.docx", b"not a zip", "This DOCX document cannot be read: "),
    ("a.docx", docx_bytes()[:500], "This DOCX document cannot be read: "),
])
def test_damaged_files_are_unreadable_with_a_reason(name, data, message):
    with pytest.raises(Unreadable, match="^" + message) as raised:
        parse(data, name, {})
    assert "\n" not in str(raised.value) and len(str(raised.value)) <= 200


def test_a_zip_that_is_no_docx_is_unreadable():
    out = io.BytesIO()
    with __import__("zipfile").ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(Unreadable, match="This DOCX document cannot be read"):
        parse(out.getvalue(), "a.docx", {})


@SETTINGS
@given(st.sampled_from(sorted(SUFFIXES)), st.one_of(
    st.binary(max_size=300),
    st.builds(lambda head, tail: head + tail,
              st.sampled_from([b"%PDF-1.4\n", b"PK\x03\x04", b"{", b"<html>", b"\xef\xbb\xbf"]),
              st.binary(max_size=300)),
))
def test_any_bytes_give_chunks_or_unreadable(suffix, data):
    try:
        chunks = parse(data, f"file.{suffix}", {"chunk_token_num": 16})
    except Unreadable as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert all(text.strip() and count == count_tokens(text) for text, count in chunks)
