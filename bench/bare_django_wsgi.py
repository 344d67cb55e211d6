"""The WSGI app of `bench/bare_django.py` (gunicorn bench.bare_django_wsgi:application)."""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.bare_django"

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
