"""What the service counts for Prometheus; the hot path only increments (see `metrics_endpoint`).

Without PROMETHEUS_MULTIPROC_DIR, the counts live in this process's memory (one process:
`runserver`, the tests). With it, prometheus_client keeps each process's counts in files there
and /metrics adds up the files of every process: gunicorn's workers and Celery's prefork
children, so several processes' counters add up. The files are named by host name and process
id, so containers that share the folder (their process ids start at 1 alike) never write to
each other's files.
"""

import os
import socket

from prometheus_client import Counter, Histogram, values
from prometheus_client.registry import CollectorRegistry

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # The identifier is part of each file's name, where "_" separates fields.
    _HOST = socket.gethostname().replace("_", "-")
    values.ValueClass = values.MultiProcessValue(lambda: f"{_HOST}-{os.getpid()}")

# Without the folder, the counts are this registry's; with it, the folder's files are.
REGISTRY = CollectorRegistry(auto_describe=True)

NOTICES_RECEIVED = Counter(
    "topview_notices_received",
    "POSTs to the notice endpoint, by body format (unknown when refused before parsing) and "
    "outcome: the answer's status class (2xx, 4xx, 5xx) or the refusal's reason.",
    ["format", "outcome"],
    registry=REGISTRY,
)
NOTICES_REFUSED = Counter(
    "topview_notices_refused",
    "Requests refused before becoming a notice, by reason (as RefusalCount counts them).",
    ["reason"],
    registry=REGISTRY,
)
INGEST_SECONDS = Histogram(
    "topview_notice_ingest_seconds",
    "Time the notice endpoint takes to answer a POST.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)
PROCESS_SECONDS = Histogram(
    "topview_notice_process_seconds",
    "Time one processing attempt takes (Topview's confirmation included), by the notice's "
    "state after it: done, failed or dead.",
    ["outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
END_TO_END_SECONDS = Histogram(
    "topview_notice_end_to_end_seconds",
    "From a notice's receipt to its first processing to the end (received_at to processed_at).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0),
    registry=REGISTRY,
)
NOTIFICATIONS_SENT = Counter(
    "topview_notifications_sent",
    "Emails handed to the mail server for a finished task, by the task's status.",
    ["status"],
    registry=REGISTRY,
)
