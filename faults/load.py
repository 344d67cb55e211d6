"""The load: Topview's deliveries for many tasks, at a steady rate, retried as Topview would.

Each task gets `init`, `running` and one final status (success or fail), plus for about one
notice in five a second delivery of the same uuid. A batch of tasks is shuffled together, so a
task's notices arrive out of order and interleaved with other tasks'. A delivery not answered
2xx (or not answered at all) is sent again after a second, with a new X-Fault-Seq, until it is
acknowledged or the profile's give-up time (a minute in the full form) has passed.
"""

import heapq
import http.client
import itertools
import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

FINAL_STATUSES = ("success", "fail")
BATCH_TASKS = 8
DUPLICATE_SHARE = 0.2
RETRY_AFTER_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 10.0
SENDERS = 16
TOPVIEW_UID = "faults-uid"


@dataclass(frozen=True)
class Delivery:
    """One notice as Topview sends it; a duplicate delivery is the same object sent again."""

    task_id: str
    notice_uuid: str
    status: str

    def body(self) -> bytes:
        final = self.status in FINAL_STATUSES
        return json.dumps({
            "uuid": self.notice_uuid,
            "bizType": "M2V_EXPORT",
            "taskId": self.task_id,
            "status": self.status,
            "errorMsg": "rendering failed" if self.status == "fail" else "",
            "result": {"exportVideos": [{"videoUrl": f"https://cdn.example/{self.task_id}.mp4"}]}
            if final else {},
        }).encode()


@dataclass(frozen=True)
class Attempt:
    """One HTTP request: `answer` is the HTTP status, or None with `error` when none came."""

    seq: int
    delivery: Delivery
    answer: int | None
    error: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.answer is not None and 200 <= self.answer < 300


def plan(prefix: str, tasks: int, rng: random.Random) -> list[Delivery]:
    """Every delivery for `tasks` tasks named `<prefix><n>`, in the order they will be sent."""
    order: list[Delivery] = []
    for first in range(0, tasks, BATCH_TASKS):
        batch = []
        for n in range(first, min(first + BATCH_TASKS, tasks)):
            task_id = f"{prefix}{n:05d}"
            for status in ("init", "running", rng.choice(FINAL_STATUSES)):
                delivery = Delivery(task_id, str(uuid.UUID(int=rng.getrandbits(128))), status)
                batch.append(delivery)
                if rng.random() < DUPLICATE_SHARE:
                    batch.append(delivery)
        rng.shuffle(batch)
        order.extend(batch)
    return order


class Load:
    """Sends `deliveries` at `rate` a second from a pool of threads until `finish` is called.

    New deliveries leave at the steady rate; retries come on top, each a second after its
    failed attempt, from a heap the dispatcher drains, so a slow or failing server never slows
    the offered rate (as with a real sender, which does not wait for us).
    """

    def __init__(
        self, port: int, deliveries: list[Delivery], *, rate: float, give_up_after: float,
        seqs: itertools.count,
    ):
        self.port = port
        self.rate = rate
        self.give_up_after = give_up_after
        self.attempts: list[Attempt] = []
        self._todo = iter(deliveries)
        self._seqs = seqs
        self._retries: list[tuple[float, int, Delivery, float]] = []  # (due, tie, delivery, first)
        self._tie = itertools.count()
        self._lock = threading.Lock()
        self._open = 0  # deliveries neither acknowledged nor given up
        self.given_up = 0  # deliveries never acknowledged within `give_up_after` seconds
        self._feeding = threading.Event()
        self._pool = ThreadPoolExecutor(SENDERS, thread_name_prefix="sender")
        self._dispatcher = threading.Thread(target=self._dispatch, name="dispatcher", daemon=True)

    def start(self) -> None:
        self._feeding.set()
        self._dispatcher.start()

    def finish(self) -> bool:
        """Send no new delivery; wait for the retries still running. True if all ended in time."""
        self._feeding.clear()
        self._dispatcher.join(self.give_up_after + REQUEST_TIMEOUT_SECONDS + 5)
        finished = not self._dispatcher.is_alive()
        self._pool.shutdown(wait=finished, cancel_futures=True)
        return finished

    def _dispatch(self) -> None:
        next_new = time.monotonic()
        while True:
            now = time.monotonic()
            for delivery, first in self._due_retries(now):
                self._pool.submit(self._send, delivery, first)
            if self._feeding.is_set() and now >= next_new:
                delivery = next(self._todo, None)
                if delivery is not None:
                    with self._lock:
                        self._open += 1
                    self._pool.submit(self._send, delivery, now)
                next_new += 1 / self.rate
            with self._lock:
                if not self._feeding.is_set() and self._open == 0:
                    return
            time.sleep(0.005)

    def _due_retries(self, now: float) -> list[tuple[Delivery, float]]:
        due = []
        with self._lock:
            while self._retries and self._retries[0][0] <= now:
                _, _, delivery, first = heapq.heappop(self._retries)
                due.append((delivery, first))
        return due

    def _send(self, delivery: Delivery, first: float) -> None:
        attempt = self._post(delivery, next(self._seqs))
        with self._lock:
            self.attempts.append(attempt)
            retry_at = time.monotonic() + RETRY_AFTER_SECONDS
            if attempt.acknowledged:
                self._open -= 1
            elif retry_at - first > self.give_up_after:
                self._open -= 1
                self.given_up += 1
            else:
                heapq.heappush(self._retries, (retry_at, next(self._tie), delivery, first))

    def _post(self, delivery: Delivery, seq: int) -> Attempt:
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_SECONDS
        )
        try:
            connection.request("POST", "/notice/topview", body=delivery.body(), headers={
                "Content-Type": "application/json",
                "Topview-Uid": TOPVIEW_UID,
                "X-Fault-Seq": str(seq),
            })
            response = connection.getresponse()
            response.read()
            return Attempt(seq, delivery, response.status)
        except (OSError, http.client.HTTPException) as exc:
            return Attempt(seq, delivery, None, f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()
