"""Small requests never queue behind batches: two thread pools, chosen by request size.

BentoML runs a sync endpoint in one shared thread slot (`threads: 1` by default), so a single-member
/score waited for every 1,000-id batch ahead of it (p99 600+ ms under mixed load). The endpoints are
async instead and hand their work to `Dispatcher.run`: requests of at most `small` members go to an
interactive pool, larger ones (and whole-snapshot or planning work) to a one-thread bulk pool, so
batches queue behind each other, not in front of lookups. The answer is serialised to JSON in the
pool thread too, keeping the event loop free for the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pydantic import BaseModel
from starlette.responses import Response

SMALL_REQUEST = 20  # members: a campaign tool's lookups
# How long a running thread keeps the GIL when another wants it (CPython's default is 5 ms). A lookup
# needs the GIL several times (loop, pool thread, loop) while a batch thread computes, and waited up to
# this long each time.
SWITCH_INTERVAL_S = 0.0005
# Batch threads run at this nice value: when the CPUs are busy, lookups' threads are scheduled first.
BULK_NICE = 10
BULK = sys.maxsize  # the size of work that is never small (whole-snapshot selects, planning)

Answer = BaseModel | Response


def _lower_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority (Linux schedules threads one by one; no-op elsewhere)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux or not permitted: equal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


def _as_response(work: Callable[[], Answer]) -> Response:
    answer = work()
    if isinstance(answer, Response):
        return answer
    return Response(answer.model_dump_json(), media_type="application/json")


class Dispatcher:
    """Runs endpoint work on the interactive or the bulk pool and answers a JSON response."""

    def __init__(self, small: int = SMALL_REQUEST, interactive: int = 4, bulk: int = 1) -> None:
        sys.setswitchinterval(SWITCH_INTERVAL_S)  # a serving process: short waits for the GIL
        self.small = small
        self.interactive = ThreadPoolExecutor(interactive, thread_name_prefix="memberwise-interactive")
        self.bulk = ThreadPoolExecutor(
            bulk, thread_name_prefix="memberwise-bulk", initializer=_lower_priority, initargs=(BULK_NICE,)
        )

    async def run(self, size: int, work: Callable[[], Answer]) -> Response:
        """`work()` as a response, on the interactive pool when `size` is small, else the bulk pool."""
        pool = self.interactive if size <= self.small else self.bulk
        return await asyncio.get_running_loop().run_in_executor(pool, _as_response, work)

    def shutdown(self) -> None:
        """Finish queued work, then stop the threads (in-flight requests still get their answers)."""
        self.interactive.shutdown(wait=True)
        self.bulk.shutdown(wait=True)
