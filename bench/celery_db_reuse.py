"""The service's Celery app with CELERY_DB_REUSE_MAX set, for the worker drain comparison.

Celery's Django fixup reads this exact key from the app's config (not the CELERY_-namespaced
Django setting), and otherwise closes the database connection before and after every task.
"""

from topview_project.celery import app

app.conf.CELERY_DB_REUSE_MAX = 1000
