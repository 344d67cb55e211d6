"""Log filters: no secret reaches a log line, whoever wrote it (Django's request log included)."""

import logging
import re

# The token is the path segment after /notice/topview/, or a token= query parameter.
_TOKEN_IN_PATH = re.compile(r"(/notice/topview/)(?!test\b)[^/\s?\"']+")
_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s\"']+")


class RedactNoticeTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _TOKEN_IN_QUERY.sub(r"\1[redacted]", _TOKEN_IN_PATH.sub(r"\1[redacted]", message))
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
