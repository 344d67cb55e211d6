"""A paginator for admin lists of a million rows: it never runs an unbounded COUNT(*).

PostgreSQL counts by reading every row, so the admin's usual count costs seconds on a big table.
An unfiltered list takes the planner's estimate instead; any other list counts at most `cap`
rows, so a count equal to the cap means "at least that many" and only the first `cap` rows can
be paged through: narrow the list with a filter or a search to reach older rows.
"""

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property


class EstimatedCountPaginator(Paginator):
    cap = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where:
            estimate = estimated_rows(queryset)
            # A table never analysed says -1; a small one is cheap to count for real (below).
            if estimate is not None and estimate >= self.cap:
                return estimate
        return queryset[: self.cap].count()


def estimated_rows(queryset) -> int | None:
    """The planner's row estimate for the queryset's table, or None off PostgreSQL."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
            [connection.ops.quote_name(queryset.model._meta.db_table)],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None
