"""The ASGI application: HTTP to Django, WebSockets to the live consumers (Django Channels).

Served by daphne: `manage.py runserver` in development (daphne is the first installed app),
the `live` service of docker-compose.yml in production, beside gunicorn for the rest.
"""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "topview_project.settings")

# Django is set up before the consumers (and the models they import) are imported.
django_asgi_app = get_asgi_application()

# Each request runs in a thread of its own under ASGI, so a connection kept for the next
# request is never used again and stays open until collected: 30 requests left 12 open (the
# test), and under load PostgreSQL refused more ("too many clients"). Django's docs: "When
# using ASGI, persistent connections should be disabled." This process closes each request's
# connection at its end, whatever DB_CONN_MAX_AGE says for the WSGI web and the workers.
for database in settings.DATABASES.values():
    database["CONN_MAX_AGE"] = 0

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from live.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    # Only pages of our own hosts may open a socket; the session cookie says who the user is.
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
