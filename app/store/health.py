"""Whether a store can be written now, as this process's writes and a probe tell."""

import time
from contextlib import contextmanager

from app.store import StoreError

PROBE_AFTER = 10  # s without a successful write after which a check writes a probe


class Writes:
    """How this process's last writes to a store went, and a probe when they tell nothing."""

    def __init__(self, probe, stands=0):
        # probe(): a small write that raises StoreError if it fails. stands: s that a failed
        # write makes the store unhealthy without a probe, unless a write succeeds since.
        self.probe, self.stands = probe, stands
        self.failed = None  # (monotonic time, reason) of the last write that failed
        self.written = None  # monotonic time of the last write that succeeded

    def fail(self, err):
        self.failed = time.monotonic(), str(err)

    def succeed(self):
        self.written = time.monotonic()

    @contextmanager
    def attempt(self):
        """Note how the write in the block ends."""
        try:
            yield
        except StoreError as err:
            self.fail(err)
            raise
        self.succeed()

    def check(self):
        """Raise StoreError if a write failed lately with none done since, or a probe fails."""
        now = time.monotonic()
        failing = self.failed is not None and (self.written is None
                                               or self.written < self.failed[0])
        if failing and now - self.failed[0] < self.stands:
            raise StoreError(f"the last write, {now - self.failed[0]:.0f} s ago, failed: "
                             f"{self.failed[1]}")
        if failing or self.written is None or now - self.written >= PROBE_AFTER:
            self.probe()
            self.succeed()
