"""GET /metrics: the counts of every process, and the backlog read from the database.

Not behind the notice tokens: it says how much traffic there is, not what it holds, but it
should still not be public (the proxy in front should not route it). METRICS_ENABLED=0 turns
it off. The backlog and dead notices are counted when Prometheus asks, not on the hot path:
two short queries on the partial index of open notices and the state index.
"""

import logging

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from notices.models import OPEN_STATES, Notice, NoticeState

from . import metrics

logger = logging.getLogger(__name__)


class BacklogCollector(Collector):
    """Open notices, the oldest one's age and dead notices, read from the database per scrape.

    A database that does not answer leaves these out (the counters are still served); an alert
    on their absence says so.
    """

    def collect(self):
        try:
            open_notices = Notice.objects.filter(state__in=OPEN_STATES).aggregate(
                count=Count("*"), oldest=Min("received_at")
            )
            dead = Notice.objects.filter(state=NoticeState.DEAD).count()
        except DatabaseError as exc:
            logger.warning("Metrics: backlog not read from the database: %s", exc)
            return
        oldest = open_notices["oldest"]
        age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "topview_notices_open", "Notices pending, processing or failed (to be retried).",
            value=open_notices["count"],
        )
        yield GaugeMetricFamily(
            "topview_notices_oldest_open_age_seconds",
            "Age of the oldest open notice (0 when none is open).", value=age,
        )
        yield GaugeMetricFamily(
            "topview_notices_dead", "Notices given up on after every attempt.", value=dead
        )


def _registry() -> CollectorRegistry:
    if not settings.PROMETHEUS_MULTIPROC_DIR:
        return metrics.REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


_BACKLOG = CollectorRegistry()
_BACKLOG.register(BacklogCollector())


@require_GET
def metrics_view(request):
    if not settings.METRICS_ENABLED:
        raise Http404("metrics are off")
    body = generate_latest(_registry()) + generate_latest(_BACKLOG)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
