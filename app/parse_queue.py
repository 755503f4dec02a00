"""The parser of each process: takes queued documents from the store and parses them."""

# Any process of any host may take a document (Store.claim_parse holds it for PARSE_LEASE
# seconds); one killed mid-parse leaves it to be taken again when that time is up.

import logging
import os
import threading
import time
import uuid
import weakref

from app import parsing
from app.store import StoreError, get_store

log = logging.getLogger(__name__)
POLL = 0.5  # s between looks at the queue when it is empty
FAILING_POLL = 5  # s between looks while the store cannot be had
IDLE = 30  # s with nothing to parse after which a thread started by a request ends
COLLECT_EVERY = 3600  # s between collections of bytes no record names
COLLECT_GRACE = 3600_000  # ms: bytes younger than this may be an upload not yet recorded


RUNNERS = weakref.WeakSet()  # every Runner of this process


def now_ms():
    return time.time_ns() // 1_000_000


class Runner:
    """A thread of this process that parses documents while there are any (or always)."""

    def __init__(self, app):
        self.app = app
        self.wake = threading.Event()
        self.mutex = threading.Lock()
        self.thread, self.pid, self.forever = None, None, False
        self.stopping = False
        self.collected = time.monotonic()
        RUNNERS.add(self)

    def start(self, forever=False):
        """Start the thread if this process has none running; `forever`: never let it end."""
        with self.mutex:
            self.forever, self.stopping = self.forever or forever, False
            if self.pid != os.getpid() or self.thread is None:
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self.run, name="parser", daemon=True)
                self.thread.start()
        self.wake.set()

    def run(self):
        idle_since, failing = time.monotonic(), False
        while not self.stopping:
            with self.app.app_context():
                try:
                    busy = self.parse_one()
                    self.collect()
                except StoreError as err:
                    if not failing:  # once, not at every look: the requests say it too
                        log.warning("Parser: the store is unavailable, waiting: %s", err)
                    busy, failing = False, True
                    self.wake.wait(FAILING_POLL)
                else:
                    if failing:
                        log.info("Parser: the store is available again")
                    failing = False
            if busy:
                idle_since = time.monotonic()
                continue
            if not self.forever and time.monotonic() - idle_since > IDLE:
                with self.mutex:  # a start() from now on makes a new thread
                    if not self.wake.is_set():
                        self.thread = None
                        return
            self.wake.wait(POLL)
            self.wake.clear()

    def stop(self):
        """End the thread, after the parse it is at, if any."""
        with self.mutex:
            thread, self.stopping = self.thread, True
            self.thread = None
        self.wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def parse_one(self):
        """Parse the longest-waiting document, if any; whether there was one."""
        store, claim = get_store(), uuid.uuid4().hex
        lease = int(self.app.config["PARSE_LEASE"] * 1000)
        taken = store.claim_parse(claim, now_ms() + lease, now_ms())
        if taken is None:
            return False
        tenant, document = taken
        chunks, error = None, None
        held = threading.Event()  # set when the parse ends: the lease is held until then
        threading.Thread(target=self.hold, args=(tenant, document["id"], claim, lease, held),
                         daemon=True).start()
        try:
            stream = store.read_bytes(tenant, document["location"])
            if stream is None:
                raise parsing.Unreadable("The file's bytes are missing.")
            with stream:
                data = stream.read()
            chunks = parsing.parse(data, document["name"], document["parser_config"])
        except parsing.Unreadable as err:
            error = str(err)
        except Exception as err:  # a parser's bug fails one document, not the thread
            log.exception("Parser: %s of tenant %s failed", document["id"], tenant)
            error = f"Internal error while parsing: {type(err).__name__}"
        finally:
            held.set()
        store.finish_parse(tenant, document["id"], claim, chunks, error, now_ms())
        return True

    def hold(self, tenant, document_id, claim, lease, done):
        """Renew the claim every third of the lease while the parse runs."""
        with self.app.app_context():
            while not done.wait(lease / 3000):
                try:
                    if not get_store().renew_parse(tenant, document_id, claim,
                                                   now_ms() + lease):
                        return  # stopped, or taken by another: its finish will be refused
                except StoreError as err:
                    log.warning("Parser: could not renew a claim: %s", err)

    def collect(self):
        if time.monotonic() - self.collected >= COLLECT_EVERY:
            self.collected = time.monotonic()
            removed = get_store().collect(COLLECT_GRACE)
            if removed:
                log.info("Removed the bytes of %d files no document names", removed)


def stop_all():
    """Stop every parser of this process (a test's end, a worker's exit)."""
    for runner in list(RUNNERS):
        runner.stop()


def init_app(app):
    app.extensions["parser"] = Runner(app)
