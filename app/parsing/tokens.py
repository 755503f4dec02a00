"""Token counts in tiktoken's cl100k_base, as RAGFlow counts them, with no download.

tiktoken fetches its ranks file from the network at first use; this module builds the same
encoding from a copy shipped beside it (cl100k_base.tiktoken.gz), checked by its SHA-256.
"""
import base64
import functools
import gzip
import hashlib
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
