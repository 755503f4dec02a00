"""RAGFlow v0.27.0's "naive" chunking of extracted text, reproduced step by step.

Followed: its delimiter field (single characters, multi-character ones in backticks, longest
first, backslash escapes), its text parser's first merge, naive_merge (a "\\n" before every
piece, merging while the chunk stays within chunk_token_num, oversized pieces split at the
delimiters, then at whitespace, then inside a word), overlapped_percent (the last characters of
the chunk before), and a backticked delimiter making every piece its own chunk whatever its
size. Left out, having no layout model: positions, images and child chunks.
"""
import re
from dataclasses import dataclass

from app.parsing.tokens import Tally, count_tokens

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
    """RAGFlow's text parser: pieces joined by "\\n" until a section passes the budget."""
    pieces = settings.split(_lf(text))
    if settings.custom:
        return pieces
    sections, tokens = [""], [0]
    for piece in pieces:
        if tokens[-1] > settings.chunk_token_num:
            sections.append(piece)
            tokens.append(count_tokens(piece))
        else:
            sections[-1] += "\n" + piece if sections[-1] else piece
            tokens[-1] += count_tokens(piece)
    return sections


def chunks(sections: list[str], settings: Settings) -> list[tuple[str, int]]:
    """naive_merge of the sections: the chunks with their token counts, blank ones dropped."""
    sections = [_lf(section) for section in sections]
    if settings.custom:
        found = ["\n" + piece for section in sections for piece in settings.split(section)]
        return [(text, count_tokens(text)) for text in found if text.strip()]
    merged = _Merge(settings.chunk_token_num, settings.overlapped_percent)
    for section in sections:
        text = "\n" + section
        tokens = count_tokens(text)
        if tokens <= settings.chunk_token_num:
            merged.add(text, tokens)
            continue
        for piece in settings.split(section) if settings.pattern else [section]:
            text = "\n" + piece
            tokens = count_tokens(text)
            if tokens <= settings.chunk_token_num:
                merged.add(text, tokens)
            else:
                for part in _fit(text, settings.chunk_token_num):
                    merged.add(part)
    return [(t.text, t.count()) for t in merged.done if t.text.strip()]


class _Merge:
    """naive_merge's add_chunk: grow the last chunk while it fits, else start the next."""

    def __init__(self, budget: int, overlapped_percent: int):
        self.budget, self.overlapped_percent = budget, overlapped_percent
        self.done: list[Tally] = []

    def add(self, text: str, tokens: int | None = None) -> None:
        """Add text, whose token count is tokens when the caller knows it."""
        if not self.done:
            self.done.append(Tally(text, tokens))
            return
        last = self.done[-1]
        if last.count(text, tokens) <= self.budget:
            last.extend(text, tokens)
            return
        if self.overlapped_percent:
            start = int(len(last.text) * (100 - self.overlapped_percent) / 100.0)
            overlap = last.text[start:]
            if tokens is None:
                tokens = count_tokens(text)
            if count_tokens(overlap) + tokens <= self.budget:
                text, tokens = overlap + text, None
        self.done.append(Tally(text, tokens))


def _fit(text: str, budget: int) -> list[str]:
    """text cut into parts within budget: at whitespace, and inside a word too long alone."""
    parts, current, current_tokens = [], "", 0
    for atom in re.findall(r"\s+|\S+", text):
        tokens = 0 if atom.isspace() else count_tokens(atom)
        if tokens > budget:
            if current:
                parts.append(current)
                current, current_tokens = "", 0
            parts += _cut_word(atom, budget)
            continue
        if current and current_tokens + tokens > budget:
            parts.append(current)
            current, current_tokens = "", 0
        current += atom
        current_tokens += tokens
    return parts + [current] if current else parts


def _cut_word(word: str, budget: int) -> list[str]:
    """word cut into the longest runs of characters within budget.

    RAGFlow bisects over the rest of the word for each run, which takes minutes on a megabyte
    without a space; here a window twice as wide each time is tried first, then bisected.
    """
    parts, start = [], 0
    while start < len(word):
        width = budget
        while start + width < len(word) and count_tokens(word[start:start + width]) <= budget:
            width *= 2
        low, high, end = start + 1, min(len(word), start + width), start + 1
        while low <= high:
            middle = (low + high) // 2
            if count_tokens(word[start:middle]) <= budget:
                end, low = middle, middle + 1
            else:
                high = middle - 1
        parts.append(word[start:end])
        start = end
    return parts
