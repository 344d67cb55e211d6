"""The fault suite of issue 3: does the service keep every acknowledged notice through faults?

    python faults/run.py            # full: 40 notices/s, Redis down 30 s, PostgreSQL down 20 s
    python faults/run.py --short    # CI: 20 notices/s, 10 s and 8 s outages, about 1.5 minutes
    python faults/run.py --keep-logs   # keep every process's log (always kept on a failure)

It starts a stack of its own (stack.py), then for each fault (scenarios.py) sends a steady load
(load.py), injects the fault, keeps sending a little longer, stops, waits for the stack to
settle and compares what was answered with what was stored and done (verify.py). It prints a
table, writes it to faults/last-run.md (and the details to faults/last-run.json), and exits 1
if anything was lost, wrong, duplicated or left pending, or a fault never recovered.
"""

import argparse
import atexit
import itertools
import json
import math
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent


def exit_on_signal(signum, frame) -> None:
    """Turn SIGTERM/SIGHUP/Ctrl-C into an exit through `finally`; ignore repeats while cleaning.

    Installed before anything else: a shell starts a background job with SIGINT ignored, and a
    signal that came during the imports would otherwise be lost.
    """
    for other in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(other, signal.SIG_IGN)
    raise SystemExit(128 + signum)


for _signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_signum, exit_on_signal)


def _use_project_python() -> None:
    """Re-run under the project's virtualenv when started by a Python without Django."""
    try:
        import django  # noqa: F401
    except ImportError:
        venv_python = ROOT / ".venv" / "bin" / "python"
        if venv_python.exists() and Path(sys.executable) != venv_python:
            os.execv(venv_python, [str(venv_python), *sys.argv])
        raise


_use_project_python()
sys.path.insert(0, str(ROOT))

from faults.load import Load, plan  # noqa: E402
from faults.scenarios import FAULTS, Fault  # noqa: E402
from faults.stack import Stack  # noqa: E402
from faults.verify import Outcome, create_owned_tasks, outcome, setup_django  # noqa: E402

DELIVERIES_PER_TASK = 3.6  # three notices and one duplicate in five
STARTED = time.monotonic()


@dataclass(frozen=True)
class Profile:
    name: str
    rate: float  # new notices a second (retries come on top)
    warmup: float  # seconds of load before the fault
    after: float  # seconds of load once the fault has ended
    redis_outage: float
    postgres_outage: float
    give_up: float  # seconds the sender retries a delivery that is not acknowledged
    recovery: float  # the longest wait, once the load has stopped, for the stack to settle


SHORT = Profile(
    "short", rate=20, warmup=4, after=4, redis_outage=10, postgres_outage=8,
    give_up=30, recovery=45,
)
FULL = Profile(
    "full", rate=40, warmup=8, after=8, redis_outage=30, postgres_outage=20,
    give_up=60, recovery=120,
)


@dataclass(frozen=True)
class Row:
    fault: str
    did: str
    outcome: Outcome
    given_up: int  # deliveries the sender never got a 2xx for, retrying until it gave up
    recovered_in: float | None  # seconds from the fault's end; None: not within the window
    answers: dict[str, int]  # HTTP status (or "no answer") -> attempts

    @property
    def passed(self) -> bool:
        """The issue's verdict, plus: every delivery acknowledged in the end (else the service
        could pass by refusing everything)."""
        o = self.outcome
        return self.recovered_in is not None and not (
            o.lost or o.wrong or o.duplicates or o.pending or self.given_up
        )


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def run_fault(stack: Stack, fault: Fault, profile: Profile, seqs, rng: random.Random) -> Row:
    outage = getattr(profile, fault.outage) if fault.outage else 0.0
    # Enough tasks for the whole load and some; what is not sent by the end is simply not sent.
    seconds = profile.warmup + outage + profile.after + 30
    deliveries = plan(fault.prefix, math.ceil(profile.rate * seconds / DELIVERIES_PER_TASK), rng)
    create_owned_tasks(sorted({d.task_id for d in deliveries}))
    load = Load(
        stack.web_port, deliveries, rate=profile.rate, give_up_after=profile.give_up, seqs=seqs
    )
    say(f"{fault.name}: load of {profile.rate:.0f} notices/s started")
    load.start()
    time.sleep(profile.warmup)
    say(f"{fault.name}: injecting")
    did = fault.inject(stack, fault.prefix, outage)
    ended = time.monotonic()
    say(f"{fault.name}: {did}")
    time.sleep(profile.after)
    if not load.finish():
        say(f"{fault.name}: senders still busy after their give-up time; judging what they did")
    attempts = list(load.attempts)
    say(f"{fault.name}: load stopped after {len(attempts)} attempts; waiting for the stack")
    recovered_in, result = wait_for_recovery(fault.prefix, attempts, stack, ended, profile.recovery)
    answers = Counter(str(a.answer) if a.answer else "no answer" for a in attempts)
    return Row(fault.name, did, result, load.given_up, recovered_in, dict(sorted(answers.items())))


def wait_for_recovery(prefix, attempts, stack: Stack, ended: float, window: float):
    """Poll until every notice is done or dead, every task right and every notification tried."""
    deadline = time.monotonic() + window
    while True:
        result = outcome(prefix, attempts, stack.mail_dir)
        if result.settled:
            return round(time.monotonic() - ended, 1), result
        if time.monotonic() > deadline:
            return None, result
        time.sleep(1)


COLUMNS = [
    "fault", "notices sent", "answered 2xx", "never acknowledged", "stored", "lost",
    "tasks in a wrong state",
    "duplicate notifications", "notices still pending", "dead", "emails missing",
    "seconds to recover",
]


def markdown(rows: list[Row], profile: Profile) -> str:
    lines = [
        f"Fault suite, `{profile.name}` form ({profile.rate:.0f} notices/s), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}:",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "| --- |" + " ---: |" * (len(COLUMNS) - 1),
    ]
    for row in rows:
        o = row.outcome
        recovered = f"{row.recovered_in:.1f}" if row.recovered_in is not None else "not recovered"
        cells = [
            row.fault, o.sent, o.answered, row.given_up, o.stored, o.lost, o.wrong,
            o.duplicates, o.pending, o.dead, o.emails_missing, recovered,
        ]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines) + "\n"


def details(rows: list[Row], profile: Profile, seed: int) -> dict:
    return {
        "profile": profile.__dict__,
        "seed": seed,
        "passed": all(row.passed for row in rows),
        "faults": [
            {"fault": r.fault, "did": r.did, **r.outcome.as_dict(), "given_up": r.given_up,
             "recovered_in": r.recovered_in, "answers": r.answers, "passed": r.passed}
            for r in rows
        ],
    }


def keep_logs(stack: Stack) -> Path:
    """Copy the logs out of the stack's folder, which is removed: a failure must be readable."""
    kept = Path(tempfile.mkdtemp(prefix="topview-faults-logs-"))
    for log in stack.logs():
        shutil.copy(log, kept / log.name)
    return kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI form: under 4 minutes")
    parser.add_argument("--keep-logs", action="store_true", help="keep the logs even on success")
    parser.add_argument("--seed", type=int, default=random.randrange(2**32), help="for the plans")
    args = parser.parse_args()
    profile = SHORT if args.short else FULL

    stack = Stack()
    atexit.register(stack.close)
    rows: list[Row] = []
    passed = False
    try:
        say(f"starting the stack in {stack.tmp} (seed {args.seed})")
        stack.start()
        setup_django(stack.env)
        say(f"stack ready: web :{stack.web_port}, PostgreSQL :{stack.pg_port}, "
            f"Redis :{stack.redis_port}")
        rng, seqs = random.Random(args.seed), itertools.count(1)
        for fault in FAULTS:
            rows.append(run_fault(stack, fault, profile, seqs, rng))
            verdict = "passed" if rows[-1].passed else f"FAILED; now: {stack.health()}"
            say(f"{fault.name}: {verdict}")
        passed = all(row.passed for row in rows)
    finally:
        if args.keep_logs or not passed:
            kept = keep_logs(stack)
            say(f"logs kept in {kept}: {', '.join(sorted(p.name for p in kept.iterdir()))}")
        stack.close()

    table = markdown(rows, profile)
    (HERE / "last-run.md").write_text(table)
    report = json.dumps(details(rows, profile, args.seed), indent=2)
    (HERE / "last-run.json").write_text(report + "\n")
    print(table)
    print(report)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
