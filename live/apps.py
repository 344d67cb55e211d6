from django.apps import AppConfig


class LiveConfig(AppConfig):
    """Live updates over WebSockets (Django Channels): owners see their tasks, staff the notices."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "live"
    verbose_name = "Live updates"
