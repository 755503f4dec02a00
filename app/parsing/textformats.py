"""Bytes to text, and the sections of the text formats: HTML, CSV, JSON and JSON Lines."""
import csv
import html.parser
import io
import json

# Tried in turn when a text has no byte order mark: UTF-8; GB18030, a superset of the GB2312
# and GBK that RAGFlow tries next (so a Western text that happens to be valid GB18030 reads as
# Chinese, as in RAGFlow); then Windows-1252, which is Latin-1 with printable 0x80-0x9F.
_CODECS = ("utf-8", "gb18030", "cp1252")
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


class Unreadable(Exception):
    """A document that cannot be parsed; its message says why, in a line."""


def decode(data: bytes) -> str:
    """The text in data, by its byte order mark, else by the first of _CODECS that fits."""
    codecs = [codec for bom, codec in _BOMS if data.startswith(bom)][:1] or _CODECS
    for codec in codecs:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise Unreadable("The file is binary, not text (it holds NUL bytes).")
        return text
    raise Unreadable("The file is not text in UTF-8, UTF-16, UTF-32, GB18030 or Windows-1252.")


class _HtmlText(html.parser.HTMLParser):
    """The visible text of an HTML page, a line per block element."""

    BLOCKS = frozenset(
        "address article aside blockquote br caption dd div dl dt figcaption figure footer form"
        " h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table title tr ul".split()
    )
    HIDDEN = frozenset("script style noscript template".split())

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lines, self.line, self.hidden, self.pre = [], [], 0, 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.end_line()
        elif tag in ("td", "th"):
            self.line.append(" ")
        self.pre += tag == "pre"

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.end_line()
        self.pre = max(0, self.pre - (tag == "pre"))

    def handle_data(self, data):
        if self.hidden:
            return
        if self.pre:
            first, *rest = data.split("\n")
            self.line.append(first)
            for line in rest:
                self.end_line()
                self.line.append(line)
        else:
            self.line.append(data)

    def end_line(self):
        text = "".join(self.line)
        # Whitespace is layout in <pre> (code keeps its indentation), and spacing elsewhere.
        text = text.rstrip() if self.pre else " ".join(text.split())
        if text.strip():
            self.lines.append(text)
        self.line = []


def html_blocks(text: str) -> list[str]:
    """The text lines of an HTML page: its title and the text of its body's blocks."""
    page = _HtmlText()
    page.feed(text)
    page.close()
    page.end_line()
    return page.lines


def csv_rows(text: str) -> list[str]:
    """A CSV file's rows as RAGFlow writes them: "header：value; header：value ——Data"."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise Unreadable(f"The file is not valid CSV: {exc}") from None
    rows = [row for row in rows if any(map(str.strip, row))]
    if not rows:
        return []
    # pandas names a blank header cell "Unnamed: i"; RAGFlow skips blank cells and rows with
    # more cells than the header, and ends each line with its sheet's name, "Data" for a CSV.
    header = [name or f"Unnamed: {i}" for i, name in enumerate(rows[0])]
    lines = []
    for row in rows[1:]:
        if len(row) > len(header):
            continue
        fields = [f"{header[i]}：{value}" for i, value in enumerate(row) if value.strip()]
        if fields:
            lines.append("; ".join(fields) + " ——Data")
    return lines


def json_pieces(text: str, chunk_token_num: int) -> list[str]:
    """A JSON or JSON Lines document cut into JSON objects of about chunk_token_num * 2 chars."""
    try:
        return _json_pieces(text, chunk_token_num)
    except RecursionError:
        raise Unreadable("The JSON is nested too deeply to read.") from None


def _json_pieces(text: str, chunk_token_num: int) -> list[str]:
    try:
        documents = [json.loads(text)]
    except ValueError as exc:
        lines = [line for line in text.splitlines() if line.strip()]
        documents = [document for document in map(_loads, lines) if document is not _INVALID]
        # RAGFlow takes a file for JSON Lines when 8 of its first 10 lines are JSON.
        sample = [_loads(line) is not _INVALID for line in lines[:10]]
        if not any(sample) or sum(sample) < 0.8 * len(sample):
            raise Unreadable(f"The file is not valid JSON: {exc}") from None
    max_size, min_size = chunk_token_num * 2, max(chunk_token_num - 200, 50)
    pieces = []
    for document in documents:
        found = _split_json(_lists_as_objects(document), [], [{}], max_size, min_size)
        pieces += [json.dumps(piece, ensure_ascii=False) for piece in found if not _empty(piece)]
    return pieces


_INVALID = object()


def _loads(line: str):
    try:
        return json.loads(line)
    except ValueError:
        return _INVALID


def _empty(value) -> bool:
    """Only null and empty containers carry nothing; 0 and false do."""
    return value is None or (isinstance(value, (dict, list, str)) and not value)


def _size(value) -> int:
    return len(json.dumps(value, ensure_ascii=False))


def _lists_as_objects(value):
    """Lists turned into objects keyed "0", "1", ..., as RAGFlow's JSON splitter does."""
    if isinstance(value, dict):
        return {key: _lists_as_objects(item) for key, item in value.items()}
    if isinstance(value, list):
        return {str(i): _lists_as_objects(item) for i, item in enumerate(value)}
    return value


def _split_json(value, path: list, pieces: list, max_size: int, min_size: int) -> list:
    """RAGFlow's JSON splitter: keys go into the last piece while it stays under max_size."""
    if not isinstance(value, dict):
        if path:
            _set_nested(pieces[-1], path, value)
        else:
            pieces[-1] = value
        return pieces
    for key, item in value.items():
        size, current = _size({key: item}), _size(pieces[-1])
        if size < max_size - current:
            _set_nested(pieces[-1], path + [key], item)
            continue
        if current >= min_size:
            pieces.append({})
        _split_json(item, path + [key], pieces, max_size, min_size)
    return pieces


def _set_nested(target: dict, path: list, value) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
