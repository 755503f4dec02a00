"""Model-free parsing: a document's bytes and a parser_config in, its chunks and token counts out.

Pure functions, with no Flask and no store: parse() extracts the text by the file's suffix
(extract.py, textformats.py) and chunks it as RAGFlow v0.27.0's "naive" method does (split.py),
counting tokens in cl100k_base as RAGFlow does (tokens.py).
"""
import re

from app.parsing import extract, split
from app.parsing.extract import SUFFIXES
from app.parsing.textformats import Unreadable
from app.parsing.tokens import count_tokens

__all__ = ["SUFFIXES", "Unreadable", "count_tokens", "parse"]

# Characters no store can keep (PostgreSQL refuses NUL; an unpaired surrogate is not UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def parse(data: bytes, filename: str, parser_config: dict) -> list[tuple[str, int]]:
    """The chunks of a document as (content, token_count), in document order.

    Raises Unreadable, with a short message for the document's progress_msg, for a file of a
    type it does not read or one it cannot read.
    """
    settings = split.Settings.of(parser_config or {})
    kind = extract.suffix(filename)
    if kind in extract.TEXT_SUFFIXES:
        sections = split.text_sections(extract.decode(data), settings)
    else:
        sections = extract.sections(data, kind, settings.chunk_token_num)
    return split.chunks([_UNSTORABLE.sub("", section) for section in sections], settings)
