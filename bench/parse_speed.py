"""How long the parser takes over 1 MB documents: plain prose, code, Markdown, HTML, CSV.

    python -m bench.parse_speed [--rounds N]

Prints, for each kind, the median time of parse() with the default parser_config (512 tokens
a chunk, split at line breaks), the chunks and tokens it made, and the megabytes a second; and
once, the time a process takes to load the token ranks on its first parse.
"""

import argparse
import random
import statistics
import time

from app.parsing import parse, tokens

SIZE = 1_000_000
WORDS = (
    "the of and to in is that for it as with was on be by this are from or an at which not have"
    " chunk dataset document token parser retrieval model server request answer store record"
    " deterministic throughput latency worker queue lease tenant index version boundary"
).split()


def sentence(rng):
    words = rng.choices(WORDS, k=rng.randint(6, 20))
    return " ".join(words).capitalize() + rng.choice(".!?")


def prose(rng):
    return "\n".join(" ".join(sentence(rng) for _ in range(rng.randint(1, 5))) for _ in range(9000))


def code(rng):
    lines = []
    for n in range(9000):
        lines += [f"def handler_{n}(request, store):", f'    """{sentence(rng)}"""',
                  f"    if request.{rng.choice(WORDS)}:",
                  f"        return store.{rng.choice(WORDS)}()", "    return None", ""]
    return "\n".join(lines)


def markdown(rng):
    return "\n".join(f"## {sentence(rng)}\n\n{sentence(rng)} {sentence(rng)}\n\n- {sentence(rng)}\n"
                     for _ in range(9000))


def html(rng):
    body = "".join(f"<h2>{sentence(rng)}</h2><p>{sentence(rng)} <b>{sentence(rng)}</b></p>"
                   for _ in range(9000))
    return f"<html><head><title>Bench</title></head><body>{body}</body></html>"


def csv(rng):
    rows = (f"{n},{rng.choice(WORDS)},{sentence(rng)}" for n in range(40000))
    return "id,kind,text\n" + "\n".join(rows)


KINDS = {"prose": ("a.txt", prose), "code": ("a.py", code), "markdown": ("a.md", markdown),
         "html": ("a.html", html), "csv": ("a.csv", csv)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    tokens.encoding()
    print(f"token ranks loaded in {time.perf_counter() - started:.2f} s (once per process)")
    for kind, (name, make) in KINDS.items():
        data = make(random.Random(kind)).encode()[:SIZE]
        times = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            chunks = parse(data, name, {})
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        total = sum(count for _, count in chunks)
        print(f"{kind:9} {len(data) / 1e6:.1f} MB: {median:.2f} s, {len(chunks)} chunks,"
              f" {total} tokens, {len(data) / 1e6 / median:.1f} MB/s")


if __name__ == "__main__":
    main()
