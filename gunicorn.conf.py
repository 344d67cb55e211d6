"""gunicorn reads this file from the working directory at start.

Its logs, the access log included, pass the filter Django's logs pass: the notice URL carries
a secret token, and a request line would otherwise print it. LOG_FORMAT=json makes them JSON
lines like Django's.
"""

import os

_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip() or "plain"

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "topview_project.logfilters.RedactNoticeTokens"}},
    "formatters": {
        "plain": {"format": "%(levelname)s %(asctime)s %(name)s: %(message)s"},
        "json": {"()": "topview_project.logjson.JsonFormatter"},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                   "filters": ["redact_tokens"], "formatter": _FORMAT},
        "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                   "filters": ["redact_tokens"], "formatter": _FORMAT},
    },
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {
        "gunicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
