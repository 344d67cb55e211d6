"""`make bench`: how fast the service is on this machine. A benchmark, not a test (never in CI).

It starts a stack of its own (faults.stack: PostgreSQL via initdb and Redis on free ports, then
gunicorn and Celery workers as docker-compose runs them), and measures:

1. Ingest: wrk posts unique Topview notices over 16 connections to each gunicorn configuration
   (no worker running: the notices wait in the queue), against the same configuration serving
   bench/bare_wsgi.py (the ceiling; bench/bare_asgi.py for uvicorn's ASGI worker) and
   bench/bare_django.py (the service's Django answering a constant: what Django costs). The
   three run one after the other, in 3 rounds: a round's ratio compares runs that shared the
   machine's weather, and the medians are reported. The CPU every process used per request
   (wrk and PostgreSQL included) gives the ratio a quiet machine would show.
2. End to end: 300 notices/s for 30 s; receipt to processed, from the database; backlog at the end.
3. Worker: pending notices one worker process (concurrency 1) drains per second, with Celery's
   default (database connection closed around every task) and with CELERY_DB_REUSE_MAX.
4. Memory: peak RSS (VmHWM) of every web and worker process.

It prints a table and writes bench/last-run.json and bench/last-run.png. Everything it starts it
stops by pid; the machine's own PostgreSQL and Redis are never touched.
"""

import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from faults.procs import Managed, wait_for  # noqa: E402
from faults.stack import NOTICE_QUEUE, Stack  # noqa: E402

CONNECTIONS = 16
INGEST_SECONDS = int(os.environ.get("BENCH_INGEST_SECONDS", 20))
INGEST_ROUNDS = int(os.environ.get("BENCH_INGEST_ROUNDS", 3))
E2E_RATE, E2E_SECONDS = 300, int(os.environ.get("BENCH_E2E_SECONDS", 30))
DRAIN_NOTICES = int(os.environ.get("BENCH_DRAIN_NOTICES", 1000))
# Time boxes: the run stays within about four minutes however slow the worker is.
E2E_DRAIN_WAIT_SECONDS, DRAIN_WAIT_SECONDS = 30, 15
TOPVIEW_UID = "bench-uid"


@dataclass(frozen=True)
class Server:
    """A gunicorn configuration, with the ceiling and the app it serves (WSGI or ASGI)."""

    args: list[str]
    bare: str = "bench.bare_wsgi:application"
    app: str = "topview_project.wsgi:application"


# gunicorn's sync workers, its threaded workers (as docker-compose runs it), and uvicorn's
# worker serving Django's ASGI handler (sync views run in one thread of each process).
SERVERS = {
    "sync 3 workers": Server(["--workers", "3"]),
    "gthread 2x4": Server(["--workers", "2", "--worker-class", "gthread", "--threads", "4"]),
    "uvicorn ASGI 2": Server(["--workers", "2", "--worker-class", "uvicorn_worker.UvicornWorker"],
                             bare="bench.bare_asgi:application",
                             app="topview_project.asgi:application"),
}
COMPOSE_SERVER = "gthread 2x4"
WORKER_APPS = {"default": "topview_project", "CELERY_DB_REUSE_MAX=1000": "bench.celery_db_reuse"}
OUT = Path(__file__).resolve().parent


class Bench:
    def __init__(self) -> None:
        self.stack = Stack()
        env = self.stack.env
        # As docker-compose configures it: no sweep overrides, rate limits per process; the
        # limits are lifted, as all the load comes from one address.
        for name in ("CACHE_URL", "NOTICE_SWEEP_INTERVAL_SECONDS", "NOTICE_SWEEP_GRACE_SECONDS",
                     "NOTICE_PROCESSING_LEASE_SECONDS", "NOTICE_RETRY_BASE_SECONDS"):
            env.pop(name, None)
        env["TOPVIEW_UID"] = TOPVIEW_UID
        self.url = f"{self.stack.base_url}/notice/topview"
        self.db = None
        self.web = self.worker = None

    # --- processes ---------------------------------------------------------------------------

    def start(self) -> None:
        self.stack._init_postgres()
        self.stack.start_postgres()
        self.stack.start_redis()
        self.stack._run_app("migrate", [sys.executable, "manage.py", "migrate", "--noinput"])
        self.db = psycopg.connect(self.stack.env["DATABASE_URL"], autocommit=True)

    def start_web(self, app: str, server_args: list[str], settings: str = "") -> None:
        """gunicorn as docker-compose runs it (gunicorn.conf.py from the working directory).

        `settings` replaces the Django settings module: in the environment, since gunicorn.conf.py's
        log filter reads the settings before the app is imported.
        """
        env = {**self.stack.env, **({"DJANGO_SETTINGS_MODULE": settings} if settings else {})}
        self.web = self.stack._managed("web", [
            sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{self.stack.web_port}",
            *server_args, "--control-socket", str(self.stack.tmp / "gunicorn.ctl"),
        ], env=env).start()
        wait_for("gunicorn", self.stack._web_answers, timeout=60, process=self.web)

    def start_worker(self, app: str = "topview_project", concurrency: int = 2) -> None:
        """A Celery worker as docker-compose runs it (concurrency 2), waited for until ready."""
        name = f"worker-{time.monotonic_ns()}"
        self.worker = self.stack._managed(name, [
            sys.executable, "-m", "celery", "-A", app, "worker", "--loglevel=INFO",
            f"--concurrency={concurrency}", "-Q", NOTICE_QUEUE,
        ]).start()
        log = self.worker.log
        wait_for("Celery worker", lambda: b"ready." in log.read_bytes(), timeout=60,
                 process=self.worker)

    def stop(self, process: Managed | None) -> None:
        if process is not None:
            process.stop()

    def reset(self) -> None:
        """No worker, an empty queue and no notices: each phase starts from nothing."""
        self.stop(self.worker)
        self.worker = None
        self.stack.redis_command(b"FLUSHALL")  # The stack's own Redis.
        self.db.execute("TRUNCATE notices_notice, tasks_task RESTART IDENTITY CASCADE")

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
        self.stack.close()

    # --- figures -------------------------------------------------------------------------------

    def open_notices(self) -> int:
        return self.db.execute(
            "SELECT count(*) FROM notices_notice WHERE state IN ('pending', 'processing', 'failed')"
        ).fetchone()[0]

    def wait_drained(self, timeout: float) -> float:
        """Seconds until no notice is open (or the timeout)."""
        started = time.monotonic()
        while self.open_notices() and time.monotonic() - started < timeout:
            time.sleep(0.2)
        return time.monotonic() - started

    def peak_rss(self) -> dict[str, list[float]]:
        """VmHWM in MB of each web and worker process: the parent first, then its children."""
        found = {}
        for role, process in (("web", self.web), ("worker", self.worker)):
            if process is not None and process.alive():
                found[role] = [vm_hwm_mb(pid) for pid in process.family()]
        return found

    def wrk(self, seconds: int) -> dict:
        """wrk against the running web server: its figures, and the CPU milliseconds per request
        of every process that served it (web, PostgreSQL, Redis) and of wrk itself."""
        parts = (self.web, self.stack.postgres, self.stack.redis)
        cpu_before = [cpu_seconds(process) for process in parts]
        wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(OUT / "notice.lua"),
             self.url], capture_output=True, text=True, check=True,
        )
        wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        web, postgres, redis = (cpu_seconds(p) - b for p, b in zip(parts, cpu_before))
        wrk = (wrk_after.ru_utime + wrk_after.ru_stime) - (wrk_before.ru_utime + wrk_before.ru_stime)
        line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH "))
        raw = json.loads(line[len("BENCH "):])
        per_request = 1000 / max(1, raw["requests"])
        return {
            "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
            "p50_ms": raw["p50_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000,
            "requests": raw["requests"],
            "errors": sum(raw[k] for k in ("connect", "read", "write", "status", "timeout")),
            "web_cpu_ms": round(web * per_request, 3),
            "all_cpu_ms": round((web + postgres + redis + wrk) * per_request, 3),
        }

    # --- the four measurements ---------------------------------------------------------------

    def ingest(self, server: Server) -> dict:
        """INGEST_ROUNDS rounds of the three; each figure is the median over the rounds."""
        rounds = [self.ingest_round(server) for _ in range(INGEST_ROUNDS)]
        medians = {
            kind: {figure: statistics.median(r[kind][figure] for r in rounds)
                   for figure in ("rps", "p50_ms", "p99_ms", "web_cpu_ms", "all_cpu_ms")}
            | {"errors": sum(r[kind]["errors"] for r in rounds)}
            for kind in ("bare", "bare_django", "service")
        }
        for figure in ("requests", "stored", "backlog_at_end"):
            medians["service"][figure] = sum(r["service"][figure] for r in rounds)
        return {
            **medians,
            "ratio": statistics.median(r["ratio"] for r in rounds),
            "ratio_to_django": statistics.median(r["ratio_to_django"] for r in rounds),
            # What a machine running nothing else would show: requests/s is cores / CPU per request.
            "ratio_by_cpu": round(medians["bare"]["all_cpu_ms"] / medians["service"]["all_cpu_ms"], 2),
            "peak_rss_mb": {role: [max(sizes) for sizes in zip(*(r["peak_rss_mb"][role] for r in rounds))]
                            for role in rounds[0]["peak_rss_mb"]},
            "rounds": rounds,
        }

    def ingest_round(self, server: Server) -> dict:
        self.start_web(server.bare, server.args)
        bare = self.wrk(INGEST_SECONDS)
        self.stop(self.web)
        self.start_web(server.app, server.args, "bench.bare_django")
        bare_django = self.wrk(INGEST_SECONDS)
        self.stop(self.web)
        # No worker: the cores go to the web and PostgreSQL alone, as for the two references;
        # the end-to-end phase measures the web and the worker together.
        self.start_web(server.app, server.args)
        app = self.wrk(INGEST_SECONDS)
        app["stored"] = self.db.execute("SELECT count(*) FROM notices_notice").fetchone()[0]
        app["backlog_at_end"] = self.open_notices()
        memory = self.peak_rss()
        self.stop(self.web)
        self.reset()
        return {"bare": bare, "bare_django": bare_django, "service": app,
                "ratio": round(app["rps"] / bare["rps"], 2),
                "ratio_to_django": round(app["rps"] / bare_django["rps"], 2),
                "peak_rss_mb": memory}

    def end_to_end(self, server: Server) -> dict:
        self.start_worker()
        self.start_web(server.app, server.args)
        parts = {"web": self.web, "worker": self.worker, "postgres": self.stack.postgres,
                 "redis": self.stack.redis}
        cpu_before = {name: cpu_seconds(process) for name, process in parts.items()}
        sent = send(self.url, count=E2E_RATE * E2E_SECONDS, rate=E2E_RATE)
        backlog = self.open_notices()
        drained_after = self.wait_drained(timeout=E2E_DRAIN_WAIT_SECONDS)
        cpu_ms = {name: round(1000 * (cpu_seconds(process) - cpu_before[name]) / sent["sent"], 2)
                  for name, process in parts.items()}
        # A notice still open counts as processed now: then the figures are lower bounds.
        p50, p99, processed = self.db.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY d), count(processed_at) FROM ("
            " SELECT processed_at, extract(epoch FROM coalesce(processed_at, now()) - received_at)"
            " AS d FROM notices_notice) AS t"
        ).fetchone()
        memory = self.peak_rss()
        self.reset()  # The web stays up for the drain.
        return {**sent, "processed": processed, "p50_s": round(float(p50), 3),
                "p99_s": round(float(p99), 3), "backlog_at_end": backlog,
                "drained_after_s": round(drained_after, 1), "cpu_ms_per_notice": cpu_ms,
                "peak_rss_mb": memory}

    def drain(self, app: str) -> dict:
        """Notices published with no worker running; then one worker process takes them all."""
        filled = send(self.url, count=DRAIN_NOTICES, rate=None)
        self.start_worker(app, concurrency=1)
        self.wait_drained(timeout=DRAIN_WAIT_SECONDS)
        first, last, done = self.db.execute(
            "SELECT min(processed_at), max(processed_at), count(*) FROM notices_notice"
            " WHERE state = 'done'"
        ).fetchone()
        memory = self.peak_rss().get("worker")
        self.reset()
        return {"notices": DRAIN_NOTICES, "done": done, "fill_errors": filled["errors"],
                "per_second": round((done - 1) / (last - first).total_seconds(), 1),
                "peak_rss_mb": memory}


def cpu_seconds(process: Managed | None) -> float:
    """CPU time (user + system) used so far by a process and its live descendants, and by the
    children it has waited for (PostgreSQL's ended backends): robust to other load, unlike
    rates, so the run says what a notice costs each part even on a busy machine."""
    if process is None or not process.alive():
        return 0.0
    total = 0
    for pid in process.family():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if pid == process.pid:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def vm_hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def notice_body() -> bytes:
    notice_id = str(uuid.uuid4())
    return json.dumps({
        "uuid": notice_id, "bizType": "M2V_EXPORT", "taskId": f"bench-{notice_id}",
        "status": "success", "errorMsg": "",
        "result": {"exportVideos": [{"videoUrl": f"https://cdn.example/{notice_id}.mp4"}]},
    }).encode()


def send(url: str, *, count: int, rate: float | None) -> dict:
    """`count` unique notices over CONNECTIONS kept-alive connections: request n is due at
    n / rate seconds (a late answer delays only its own connection; none is sent after
    count / rate seconds), or as fast as they go."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1]
    headers = {"Content-Type": "application/json", "Topview-Uid": TOPVIEW_UID}
    errors, sent = [0] * CONNECTIONS, [0] * CONNECTIONS
    started = time.monotonic()
    ends = started + count / rate if rate else float("inf")

    def sender(lane: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        for n in range(lane, count, CONNECTIONS):
            if rate:
                time.sleep(max(0.0, started + n / rate - time.monotonic()))
                if time.monotonic() >= ends:
                    break  # Behind the schedule: the phase lasts its time, not its count.
            sent[lane] += 1
            try:
                connection.request("POST", path, notice_body(), headers)
                answer = connection.getresponse()
                answer.read()
                errors[lane] += not 200 <= answer.status < 300
            except (OSError, http.client.HTTPException):
                errors[lane] += 1
                connection.close()
        connection.close()

    lanes = [threading.Thread(target=sender, args=(lane,)) for lane in range(CONNECTIONS)]
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join()
    elapsed = time.monotonic() - started
    return {"sent": sum(sent), "errors": sum(errors),
            "rate_achieved": round(sum(sent) / elapsed, 1)}


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    names = list(results["ingest"])
    x = range(len(names))
    ax = axes[0][0]
    for offset, (key, label) in zip((-0.27, 0, 0.27), [
        ("bare", "bare app (ceiling)"), ("bare_django", "bare Django view"),
        ("service", "notice endpoint"),
    ]):
        ax.bar([i + offset for i in x], [results["ingest"][n][key]["rps"] for n in names], 0.27,
               label=label)
    ax.set_xticks(list(x), names)
    ax.set_title(f"Ingest: requests/s ({CONNECTIONS} connections, wrk)")
    ax.legend()
    ax = axes[0][1]
    e2e = results["end_to_end"]
    ax.bar(["p50", "p99"], [e2e["p50_s"] * 1000, e2e["p99_s"] * 1000])
    ax.axhline(500, color="red", linestyle="--", label="target p99 500 ms")
    ax.set_title(f"End to end at {E2E_RATE}/s ({results['e2e_server']}): receipt to processed, ms")
    ax.legend()
    ax = axes[1][0]
    drains = results["worker_drain"]
    ax.bar(list(drains), [d["per_second"] for d in drains.values()])
    ax.set_title("One worker process (concurrency 1): notices drained per second")
    ax = axes[1][1]
    labels, values = [], []
    for phase, roles in results["peak_rss_mb"].items():
        for role, sizes in roles.items():
            labels.append(f"{phase}\n{role} (max)")
            values.append(max(sizes))
    ax.bar(labels, values)
    ax.axhline(150, color="red", linestyle="--", label="target 150 MB")
    ax.tick_params(axis="x", labelsize=6, labelrotation=20)
    ax.set_title("Peak RSS of the largest process, MB")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def report(results: dict) -> None:
    print(f"\nIngest ({INGEST_ROUNDS} rounds of {INGEST_SECONDS} s each, {CONNECTIONS} connections, "
          "no worker running; medians):")
    print(f"{'server':16} {'bare r/s':>9} {'Django r/s':>10} {'notice r/s':>10} {'ratio':>6} "
          f"{'by CPU':>6} {'/Django':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
          f"{'stored (answered)':>17} {'web MB':>7}")
    for name, run in results["ingest"].items():
        s, rss = run["service"], run["peak_rss_mb"]
        errors = s["errors"] + run["bare"]["errors"] + run["bare_django"]["errors"]
        print(f"{name:16} {run['bare']['rps']:9.0f} {run['bare_django']['rps']:10.0f} "
              f"{s['rps']:10.0f} {run['ratio']:6.2f} {run['ratio_by_cpu']:6.2f} "
              f"{run['ratio_to_django']:7.2f} {s['p50_ms']:7.1f} {s['p99_ms']:7.1f} {errors:6} "
              f"{s['stored']:>8} ({s['requests']:>6}) {max(rss['web']):7.0f}")
        print(f"  each round's ratio: {[r['ratio'] for r in run['rounds']]}; CPU per request, ms, "
              f"every process (web only): bare {run['bare']['all_cpu_ms']:.2f} "
              f"({run['bare']['web_cpu_ms']:.2f}), Django {run['bare_django']['all_cpu_ms']:.2f} "
              f"({run['bare_django']['web_cpu_ms']:.2f}), notice {s['all_cpu_ms']:.2f} "
              f"({s['web_cpu_ms']:.2f})")
    e2e = results["end_to_end"]
    print(f"\nEnd to end ({results['e2e_server']}): {e2e['rate_achieved']}/s for {E2E_SECONDS} s,"
          f" p50 {e2e['p50_s'] * 1000:.0f} ms, p99 {e2e['p99_s'] * 1000:.0f} ms, "
          f"errors {e2e['errors']}, backlog at the end {e2e['backlog_at_end']}, "
          f"{e2e['sent'] - e2e['processed']} still open {E2E_DRAIN_WAIT_SECONDS} s later")
    print(f"  CPU per notice, ms: {json.dumps(e2e['cpu_ms_per_notice'])} "
          f"(all of it: {sum(e2e['cpu_ms_per_notice'].values()):.2f} ms)")
    print("\nOne worker process, concurrency 1:")
    for name, drain in results["worker_drain"].items():
        print(f"  {name:28} {drain['per_second']:7.1f} notices/s ({drain['done']} of {drain['notices']} done)")
    print(f"\nPeak RSS, MB (every process): {json.dumps(results['peak_rss_mb'])}")


def main() -> None:
    bench = Bench()
    # Other work on the machine takes cores from the run: its load is kept with the figures.
    results: dict = {"machine": {"cores": os.cpu_count(), "load_before": os.getloadavg()},
                     "ingest": {}}
    try:
        bench.start()
        for name, server in SERVERS.items():
            print(f"ingest: {name}...", file=sys.stderr)
            results["ingest"][name] = bench.ingest(server)
        best = COMPOSE_SERVER  # End to end as docker-compose serves.
        results["e2e_server"] = best
        print(f"end to end: {best}...", file=sys.stderr)
        results["end_to_end"] = bench.end_to_end(SERVERS[best])
        results["worker_drain"] = {}
        for name, app in WORKER_APPS.items():
            print(f"worker drain: {name}...", file=sys.stderr)
            results["worker_drain"][name] = bench.drain(app)
        bench.stop(bench.web)
    finally:
        bench.close()
    results["machine"]["load_after"] = os.getloadavg()
    results["peak_rss_mb"] = {
        **{f"ingest {n}": r["peak_rss_mb"] for n, r in results["ingest"].items()},
        "end to end": results["end_to_end"]["peak_rss_mb"],
        **{f"drain {n}": {"worker": r["peak_rss_mb"]} for n, r in results["worker_drain"].items()},
    }
    (OUT / "last-run.json").write_text(json.dumps(results, indent=2) + "\n")
    chart(results, OUT / "last-run.png")
    report(results)


if __name__ == "__main__":
    main()
