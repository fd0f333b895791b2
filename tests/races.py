"""Races started on purpose: work released on many threads at the same instant, and a wait until that many
backends queue on a lock (the race is then really on)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor


def run_together(count, work):
    """Run work(i) on count threads released at the same instant; return results in order."""
    barrier = threading.Barrier(count)

    def start(i):
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(start, range(count)))


def wait_for_lock_waiters(db, count, timeout=30.0):
    """Block until count backends wait on a lock: the race is then really on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = db.execute(
            "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'"
        ).fetchone()[0]
        if waiting >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"only {waiting} of {count} backends reached the lock")
