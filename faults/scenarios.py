"""The four faults of issue 3, each injected while the load runs; each returns when it has ended.

"Ended" is the moment the stack has its part back (Redis answering, the new worker ready,
PostgreSQL accepting connections, the web worker killed: gunicorn replaces it by itself);
the seconds to recover are counted from there.
"""

import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from faults.procs import children, connection_holders, signal_pid
from faults.stack import Stack
from faults.verify import wait_for_processing

# How long a fault that must strike in the middle of work waits for some work to strike.
AIM_SECONDS = 5


@dataclass(frozen=True)
class Fault:
    name: str
    prefix: str  # task ids of this fault's load: its rows never mix with another fault's
    inject: Callable[[Stack, str, float], str]  # (stack, prefix, outage seconds) -> what was done
    outage: str  # which Profile field holds its outage seconds, "" for an instant fault


def stop_redis(stack: Stack, prefix: str, seconds: float) -> str:
    """Stop Redis while the worker holds a message it has not acknowledged: the hard case, as
    the worker then has to give the message back to a broker that is going away."""
    pid = stack.redis.pid
    holding = aim(stack.unacked_messages)
    stack.stop_redis()
    time.sleep(seconds)
    stack.start_redis()
    during = f"while the worker held {holding} unacknowledged" if holding else "(none held)"
    return f"Redis stopped {during} (SIGTERM to pid {pid}) for {seconds:.0f} s, restarted empty"


def aim(probe: Callable[[], object]) -> object:
    """Poll `probe` for up to AIM_SECONDS until it returns something true; its last answer."""
    deadline = time.monotonic() + AIM_SECONDS
    while not (found := probe()) and time.monotonic() < deadline:
        time.sleep(0.002)
    return found


def kill_worker(stack: Stack, prefix: str, seconds: float) -> str:
    """SIGKILL the worker's main process and its pool children at once, while it holds a notice.

    The notice stays `processing` with its message unacknowledged: only the worker's lease
    running out (and the sweep) can bring it back.
    """
    family = stack.worker.family()
    notice_id = wait_for_processing(prefix, AIM_SECONDS)
    killed = stack.worker.kill_hard(family)
    stack.start_worker()
    during = f"while notice {notice_id} was processing" if notice_id else "(none seen processing)"
    pids = ", ".join(map(str, killed))
    return f"Celery worker SIGKILLed {during} (pids {pids}), a new one started"


def stop_postgres(stack: Stack, prefix: str, seconds: float) -> str:
    pid = stack.postgres.pid
    stack.stop_postgres_immediately()
    time.sleep(seconds)
    stack.start_postgres()
    return f"PostgreSQL stopped (immediate: SIGQUIT to pid {pid}) for {seconds:.0f} s, restarted"


def kill_web_worker(stack: Stack, prefix: str, seconds: float) -> str:
    """SIGKILL one gunicorn worker, one serving a request if one is seen; the master replaces it."""
    workers = children(stack.web.pid)
    if not workers:
        raise RuntimeError(f"gunicorn master {stack.web.pid} has no workers")
    deadline = time.monotonic() + AIM_SECONDS
    while True:
        serving = connection_holders(workers, stack.web_port)
        if serving or time.monotonic() > deadline:
            break
        time.sleep(0.002)
    victim = random.choice(serving or workers)
    signal_pid(victim, signal.SIGKILL)
    during = "while it served a request" if serving else "(none seen serving a request)"
    return f"gunicorn worker SIGKILLed {during} (pid {victim} of master {stack.web.pid})"


FAULTS = [
    Fault("stop Redis", "f1-redis-", stop_redis, "redis_outage"),
    Fault("kill the Celery worker", "f2-worker-", kill_worker, ""),
    Fault("stop PostgreSQL", "f3-postgres-", stop_postgres, "postgres_outage"),
    Fault("kill a web worker", "f4-web-", kill_web_worker, ""),
]
