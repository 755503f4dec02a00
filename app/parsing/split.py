"""RAGFlow v0.27.0's "naive" chunking of extracted text (rag/nlp naive_merge and its text parser).

Followed: the delimiter field (single characters, multi-character ones in backticks, longest
first); a delimiter is always a chunk boundary and never kept; pieces are merged while the
running sum of their token counts is within chunk_token_num, so a chunk may pass it by its last
piece, and a piece larger than chunk_token_num is a chunk of its own, whole; every piece keeps
the "\\n" RAGFlow puts before it; overlapped_percent prefixes each chunk with that share of the
characters ending the chunk before; a backticked delimiter makes every piece its own chunk.
Not followed: positions, images, child chunks; and "\\n" typed out as two characters means a
line break here, where RAGFlow would split at every backslash and every "n".
"""
import re
from dataclasses import dataclass

from app.parsing.tokens import count_tokens

_BACKTICKED = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Settings:
    """What a parser_config asks of the chunking."""

    chunk_token_num: int
    pattern: str  # a regex of the delimiters, longest first; empty for none
    custom: bool  # a backticked delimiter: every piece is its own chunk
    overlapped_percent: int

    @classmethod
    def of(cls, config: dict) -> "Settings":
        """RAGFlow's defaults for what config leaves out, its bounds for what it gives."""
        field = str(config.get("delimiter") or "\n")
        # "\n" typed as two characters means a line break, as RAGFlow's text parser reads it.
        field = _lf(field.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t"))
        found = []
        cursor = 0
        for match in _BACKTICKED.finditer(field):
            found += [*field[cursor:match.start()], match.group(1)]
            cursor = match.end()
        found += field[cursor:]
        delimiters = sorted(dict.fromkeys(found), key=len, reverse=True)
        return cls(
            chunk_token_num=_number(config.get("chunk_token_num"), 512, 1, None),
            pattern="|".join(re.escape(d) for d in delimiters),
            custom=bool(_BACKTICKED.search(field)),
            overlapped_percent=_number(config.get("overlapped_percent"), 0, 0, 90),
        )

    def split(self, text: str) -> list[str]:
        """The non-empty pieces of text between delimiters, delimiters dropped."""
        pieces = re.split(self.pattern, text) if self.pattern else [text]
        return [piece for piece in pieces if piece]


def _lf(text: str) -> str:
    """text with "\\r\\n" and a lone "\\r" as "\\n", as RAGFlow reads line breaks."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _number(value, default: int, low: int, high: int | None) -> int:
    """value as an int within [low, high], default when it is missing or not a number."""
    try:
        number = int(float(value)) if value is not None else default
    except (TypeError, ValueError, OverflowError):
        number = default
    number = max(low, number)
    return number if high is None else min(high, number)


def text_sections(text: str, settings: Settings) -> list[str]:
    """RAGFlow's text parser: the pieces between delimiters, grouped, joined by "\\n"."""
    pieces = settings.split(_lf(text))
    sizes = [count_tokens(piece) for piece in pieces]
    budget = settings.chunk_token_num
    return ["\n".join(pieces[i] for i in group) for group in _groups(sizes, budget, budget)]


def chunks(sections: list[str], settings: Settings) -> list[tuple[str, int]]:
    """naive_merge of the sections: the chunks with their token counts, blank ones dropped."""
    pieces = ["\n" + piece for section in sections for piece in settings.split(_lf(section))]
    if settings.custom:
        found = pieces
    else:
        budget, percent = settings.chunk_token_num, settings.overlapped_percent
        sizes = [count_tokens(piece) for piece in pieces]
        # With an overlap, a chunk closes earlier, leaving room for the overlap before it.
        groups = _groups(sizes, budget, budget * (100 - percent) / 100.0)
        found = []
        for group in groups:
            text = "".join(pieces[i] for i in group)
            if found and percent:
                before = found[-1]
                text = before[int(len(before) * (100 - percent) / 100.0):] + text
            found.append(text)
    return [(text, count_tokens(text)) for text in found if text.strip()]


def _groups(sizes: list[int], budget: int, threshold: float) -> list[list[int]]:
    """RAGFlow's OVER_CAP merge: indexes of the pieces of each chunk, in order.

    A piece joins the chunk while the chunk's running size is within threshold; a piece larger
    than budget stands alone.
    """
    groups, current, total = [], [], 0
    for i, size in enumerate(sizes):
        if size > budget:
            groups += [current, [i]] if current else [[i]]
            current, total = [], 0
        elif current and total <= threshold:
            current.append(i)
            total += size
        else:
            if current:
                groups.append(current)
            current, total = [i], size
    return groups + [current] if current else groups
