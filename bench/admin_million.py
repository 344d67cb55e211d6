"""How the notice admin list behaves on a million notices: milliseconds per page, queries run.

Run with `make bench-admin`: it fills a PostgreSQL database of its own (BENCH_DATABASE_URL,
default topview_notices_bench) with 1,000,000 notices once, then times each list a staff member
would open, through Django's test client, and prints a table. A benchmark, not a test: the
figures depend on the machine.
"""

import os
import statistics
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "topview_project.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from notices.models import Notice  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", 1_000_000))
FILL = """
INSERT INTO notices_notice (received_at, headers, raw_body, body_size, payload, format, error,
  notice_uuid, topview_task_id, biz_type, status, task_status, warnings, is_test, is_duplicate,
  is_late, state, attempts, last_error)
SELECT now() - make_interval(secs => n), '{}', convert_to('{"taskId": "t' || n || '"}', 'UTF8'),
  40, jsonb_build_object('taskId', 't' || n), (ARRAY['topview','topview','simple'])[1 + n %% 3], '',
  'u' || n, 't' || (n / 3), (ARRAY['M2V_EXPORT','VOICE_CLONE','COMMON_TASK_TEXT2VIDEO'])[1 + n %% 3],
  (ARRAY['success','running','fail'])[1 + n %% 3], (ARRAY['success','running','failed'])[1 + n %% 3],
  '[]', n %% 1000 = 0, false, false, CASE WHEN n %% 5000 = 0 THEN 'dead' ELSE 'done' END,
  1, ''
FROM generate_series(1, %s) AS n
"""
PAGES = {
    "unfiltered": "",
    "format=simple": "?format__exact=simple",
    "state=dead (rare)": "?state__exact=dead",
    "status=failed": "?task_status__exact=failed",
    "bizType=VOICE_CLONE": "?biz_type=VOICE_CLONE",
    "received today": "?received_at__gte={today}T00:00:00%2B00:00",
    "test=yes (rare)": "?is_test__exact=1",
    "search taskId": "?q=t4242",
    "search uuid": "?q=u777777",
    "page 50": "?p=50",
}


def main() -> None:
    call_command("migrate", verbosity=0)
    if Notice.objects.count() < ROWS:
        print(f"filling {ROWS:,} notices...", file=sys.stderr)
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE notices_notice CASCADE")
            cursor.execute(FILL, [ROWS])
            cursor.execute("ANALYZE notices_notice")
    staff, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(staff)
    today = time.strftime("%Y-%m-%d")
    print(f"{'list':24} {'median ms':>10} {'max ms':>8} {'queries':>8}  slowest query ms")
    for name, query in PAGES.items():
        url = "/admin/notices/notice/" + query.format(today=today)
        timings = []
        for _ in range(5):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        slowest = max(float(q["time"]) for q in queries.captured_queries) * 1000
        print(f"{name:24} {statistics.median(timings):10.1f} {max(timings):8.1f} "
              f"{len(queries.captured_queries):8}  {slowest:.1f}")


if __name__ == "__main__":
    main()
