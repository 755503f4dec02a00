"""Token counts in tiktoken's cl100k_base, as RAGFlow counts them, with no download.

tiktoken fetches its ranks file from the network at first use; this module builds the same
encoding from a copy shipped beside it (cl100k_base.tiktoken.gz), checked by its SHA-256.
"""
import base64
import functools
import gzip
import hashlib
import re
from pathlib import Path

import tiktoken

RANKS_FILE = Path(__file__).with_name("cl100k_base.tiktoken.gz")
RANKS_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"

# cl100k_base's split pattern and special tokens, as tiktoken_ext.openai_public defines them
# (a test checks that they still agree).
PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
SPECIAL_TOKENS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


def load_ranks() -> dict[bytes, int]:
    """cl100k_base's mergeable ranks from the shipped file, refused if it is not the real one."""
    data = gzip.decompress(RANKS_FILE.read_bytes())
    if hashlib.sha256(data).hexdigest() != RANKS_SHA256:
        raise RuntimeError(f"{RANKS_FILE} is not cl100k_base's ranks file (SHA-256 differs)")
    return {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }


@functools.cache
def encoding() -> tiktoken.Encoding:
    """The cl100k_base encoding, built once per process on first use."""
    return tiktoken.Encoding(
        "cl100k_base", pat_str=PATTERN, mergeable_ranks=load_ranks(), special_tokens=SPECIAL_TOKENS
    )


def count_tokens(text: str) -> int:
    """The number of cl100k_base tokens in text (special-token text counts as plain text)."""
    return len(encoding().encode_ordinary(text))


# A line break that ends a run of whitespace holding a non-whitespace character after it (a
# new line, indented or not): no piece of PATTERN spans the break, and none looks past that
# character, so the tokens before the break never change when text is added at the end.
# Python's \s holds every character PATTERN's \s does, so this finds no break PATTERN lacks.
_FIXED_BREAK = re.compile(r"[\r\n](?=[^\S\r\n]*\S)")


class Tally:
    """A text that grows at its end, with its token count, encoding only its last lines again."""

    __slots__ = ("text", "cut", "head", "_next")

    def __init__(self, text: str, known: int | None = None):
        self.text, self.cut, self.head, self._next = "", 0, 0, None
        self.extend(text, known)

    def count(self, more: str = "", known: int | None = None) -> int:
        """The token count of the text with more added at its end; known: more's own count."""
        tail = self.text[self.cut:] + more
        joint = len(tail) - len(more)
        cut = _last_break(tail, joint - 1)
        head = count_tokens(tail[:cut]) if cut else 0
        self._next = (more, cut, head)  # what extend(more) would find again
        if known is not None and cut == joint + 1:
            return self.head + head + known - 1  # more is a line break, 1 token, then the rest
        return self.head + head + count_tokens(tail[cut:])

    def extend(self, more: str, known: int | None = None) -> None:
        """Add more at the end of the text; known: more's own count."""
        if self._next is None or self._next[0] is not more:
            self.count(more, known)
        _, cut, head = self._next
        self.text += more
        self.cut += cut
        self.head += head
        self._next = None


def _last_break(text: str, start: int) -> int:
    """The end of the last fixed break in text at or after start, or 0 when there is none."""
    cut = 0
    for match in _FIXED_BREAK.finditer(text, max(0, start)):
        cut = match.end()
    return cut
