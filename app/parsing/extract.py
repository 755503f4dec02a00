"""A document's text, by its file suffix, as the sections RAGFlow's naive method merges.

PDF text comes from pypdf line by line (RAGFlow's "Plain Text" layout, without its layout
model); DOCX from python-docx, paragraphs and tables in document order, a table's rows as lines
of cells joined by " | " (RAGFlow makes each table an HTML chunk of its own).
"""
import io

from app.parsing import textformats
from app.parsing.textformats import Unreadable, decode

# What RAGFlow v0.27.0's naive method reads as plain text (rag/app/naive.py), and Markdown,
# which is split here as plain text (RAGFlow splits it into Markdown blocks first).
TEXT_SUFFIXES = frozenset(
    "txt py js java c cpp h php go ts sh cs kt sql md markdown mdx".split()
)
SUFFIXES = TEXT_SUFFIXES | {"htm", "html", "csv", "json", "jsonl", "ldjson", "pdf", "docx"}

# RAGFlow's message for a type its naive method does not read.
NOT_SUPPORTED = "file type not supported yet(pdf, xlsx, doc, docx, txt supported)"


def suffix(filename: str) -> str:
    """The file name's suffix, lower-case, without its dot; empty when it has none."""
    name = filename.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def sections(data: bytes, kind: str, chunk_token_num: int) -> list[str]:
    """The sections of a document that is not plain text, in document order."""
    if kind not in SUFFIXES:
        raise Unreadable(NOT_SUPPORTED)
    if kind == "pdf":
        return pdf_lines(data)
    if kind == "docx":
        return docx_blocks(data)
    text = decode(data)
    if kind in ("htm", "html"):
        return textformats.html_blocks(text)
    if kind == "csv":
        return textformats.csv_rows(text)
    return textformats.json_pieces(text, chunk_token_num)


def _reason(exc: Exception) -> str:
    """An exception's message, one line and short, for a progress message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def pdf_lines(data: bytes) -> list[str]:
    """The text lines of every page of a PDF, as pypdf extracts them."""
    from pypdf import PdfReader  # here, not above: it adds half the app's import time

    lines = []
    # A damaged file makes pypdf raise whatever it meets first (its own errors, KeyError,
    # ValueError, ...): each one means this file cannot be read.
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("This PDF is protected by a password.")
        for page in reader.pages:
            lines += page.extract_text().split("\n")
    except Unreadable:
        raise
    except Exception as exc:
        raise Unreadable(f"This PDF cannot be read: {_reason(exc)}") from exc
    return lines


def docx_blocks(data: bytes) -> list[str]:
    """The non-empty paragraphs and the tables of a DOCX document, in document order."""
    import docx  # here, not above, as pypdf
    from docx.table import Table

    # As with PDF, a damaged file raises any kind of error from python-docx or its zip reader.
    try:
        blocks = list(docx.Document(io.BytesIO(data)).iter_inner_content())
        found = []
        for block in blocks:
            if isinstance(block, Table):
                found.append(_table_text(block))
            else:
                found.append(block.text.replace("\u3000", " ").strip())
    except Exception as exc:
        raise Unreadable(f"This DOCX document cannot be read: {_reason(exc)}") from exc
    return [text for text in found if text]


def _table_text(table) -> str:
    """A table as lines of cells; a merged cell once, not once per grid column it covers."""
    lines = []
    for row in table.rows:
        cells = []
        for cell in row.cells:
            text = cell.text.strip()
            if not cells or text != cells[-1]:
                cells.append(text)
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)
