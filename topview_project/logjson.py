"""LOG_FORMAT=json: one JSON object per line, for a log collector to read without parsing text.

Keys: time (UTC, ISO 8601), level, logger, message, then request_id, notice_id and task_id when
known (see `logcontext`), and the traceback as exception when there is one.
"""

import json
import logging
from datetime import datetime, timezone

from .logcontext import FIELDS


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if (value := getattr(record, name, None)) is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
