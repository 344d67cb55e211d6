"""Keeping the notice URL's token out of logs and stored headers, whoever wrote them."""

import logging
import re

from django.conf import settings

# The token is the path segment after /notice/topview/ (unless it is the test route), or a
# token= query parameter; the configured tokens themselves are blanked wherever they appear.
_TOKEN_IN_PATH = re.compile(r"(/notice/topview/)(?!test(?:[/?\s\"']|$))[^/\s?\"']+")
_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s\"']+")
REDACTED = "[redacted]"


def redact_tokens(text: str) -> str:
    for token in settings.NOTICE_TOKENS:
        text = text.replace(token, REDACTED)
    # Every log line and stored header passes here: the regular expressions only where they
    # can match (both are case-sensitive, as these tests are).
    if "/notice/topview/" in text:
        text = _TOKEN_IN_PATH.sub(rf"\1{REDACTED}", text)
    if "token=" in text:
        text = _TOKEN_IN_QUERY.sub(rf"\1{REDACTED}", text)
    return text


class RedactNoticeTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
