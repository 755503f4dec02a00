"""Whether the store can be written now, as this process's writes and a probe tell."""

import time
from contextlib import contextmanager

from app.store import StoreError
from app.store.jsonfile import files

FAILED_FOR = 60  # s that a failed write makes the store unhealthy, unless one succeeds since
PROBE_AFTER = 10  # s without a successful write after which a check writes a probe


class Writes:
    """How this process's last writes to the store went."""

    def __init__(self, path):
        self.path = path
        self.failed = None  # (monotonic time, reason) of the last write that failed
        self.written = None  # monotonic time of the last write that succeeded

    @contextmanager
    def attempt(self):
        """Note how the write in the block ends."""
        try:
            yield
        except StoreError as err:
            self.failed = time.monotonic(), str(err)
            raise
        self.written = time.monotonic()

    def check(self):
        """Raise StoreError if a write failed lately with none done since, or a probe fails."""
        now = time.monotonic()
        # A probe of a few bytes may fit where a commit does not: a failure stands until a
        # real write succeeds, or for FAILED_FOR.
        if self.failed and now - self.failed[0] < FAILED_FOR and (
                self.written is None or self.written < self.failed[0]):
            raise StoreError(f"the last write, {now - self.failed[0]:.0f} s ago, failed: "
                             f"{self.failed[1]}")
        if self.written is None or now - self.written >= PROBE_AFTER:
            files.probe(self.path)
            self.written = now
