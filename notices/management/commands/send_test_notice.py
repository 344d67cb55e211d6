"""Post a test notice to the notice endpoint over real HTTP, or send a stored one again.

It checks a deployment end to end (proxy, server, storage, processing) the way Topview
would reach it, which the in-process `/notice/topview/test` view cannot.
"""

import json
import secrets
import uuid
from urllib.error import HTTPError
from urllib.request import HTTPRedirectHandler, Request, build_opener

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from notices.acknowledgements import utc_now_iso
from notices.models import Notice
from tasks.status import TaskStatus, normalise_status

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class _NoRedirect(HTTPRedirectHandler):
    """A redirect would turn the POST into a GET without its body: report it as the answer."""

    def redirect_request(self, *args, **kwargs):
        return None


class Command(BaseCommand):
    help = (
        "Post a test notice (simple or Topview format) to the notice endpoint over HTTP, "
        "or resend a stored notice's exact bytes with --resend, and print the answer."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url",
            help="Endpoint to post to (default: PUBLIC_BASE_URL, else "
            f"{DEFAULT_BASE_URL}, followed by /notice/topview).",
        )
        parser.add_argument(
            "--format", choices=["simple", "topview"], help="Body format (default: simple)."
        )
        parser.add_argument("--task-id", help="taskId (default: test_task_<random hex>).")
        parser.add_argument("--status", help="status (default: success).")
        parser.add_argument(
            "--resend", type=int, metavar="NOTICE_ID", help="Post a stored notice's raw body again."
        )
        parser.add_argument(
            "--timeout", type=float, default=10, help="Seconds to wait for the answer (default 10)."
        )

    def handle(self, **options):
        url = options["url"] or (settings.PUBLIC_BASE_URL or DEFAULT_BASE_URL) + "/notice/topview"
        if not url.startswith(("http://", "https://")):
            raise CommandError(f"--url must be an http:// or https:// URL, not {url!r}")
        if options["resend"] is not None:
            body, headers = self.stored_notice(options)
        else:
            body, headers = new_notice(
                form=options["format"] or "simple",
                task_id=options["task_id"] or f"test_task_{secrets.token_hex(4)}",
                status=options["status"] or "success",
            )
        request = Request(url, data=body, headers=headers, method="POST")
        try:
            with build_opener(_NoRedirect).open(request, timeout=options["timeout"]) as response:
                answer = response.read()
        except HTTPError as exc:  # Any non-2xx answer.
            with exc:
                text = _readable(exc.read())
            raise CommandError(f"HTTP {exc.code} {exc.reason}\n{text}") from None
        except OSError as exc:  # URLError (refused, DNS, connect timeout), read timeout, reset.
            raise CommandError(f"Could not reach {url}: {getattr(exc, 'reason', exc)}") from None
        self.stdout.write(f"HTTP {response.status} {response.reason}")
        self.stdout.write(_readable(answer))

    def stored_notice(self, options) -> tuple[bytes, dict[str, str]]:
        """A stored notice's exact bytes, with the headers that decide how it is read."""
        given = [f"--{name.replace('_', '-')}" for name in ("format", "task_id", "status")
                 if options[name] is not None]
        if given:
            raise CommandError(f"--resend cannot be combined with {', '.join(given)}")
        try:
            notice = Notice.objects.get(pk=options["resend"])
        except Notice.DoesNotExist:
            raise CommandError(f"Notice {options['resend']} does not exist") from None
        body = bytes(notice.raw_body)
        if notice.body_size > len(body):
            self.stderr.write(
                f"Notice {notice.pk} was stored truncated: resending {len(body)} of "
                f"{notice.body_size} bytes"
            )
        stored = {name.lower(): value for name, value in notice.headers.items()}
        headers = {name: stored[name.lower()] for name in ("Content-Type", "Topview-Uid")
                   if stored.get(name.lower())}
        return body, headers


def new_notice(*, form: str, task_id: str, status: str) -> tuple[bytes, dict[str, str]]:
    """A notice in the simple format, or in Topview's with a plausible result."""
    headers = {"Content-Type": "application/json"}
    if form == "simple":
        payload = {"taskId": task_id, "status": status,
                   "message": "Test notice from send_test_notice", "timestamp": utc_now_iso()}
        return json.dumps(payload).encode(), headers
    normalised = normalise_status(status)
    video = {"videoUrl": "https://example.com/test.mp4",
             "coverUrl": "https://example.com/test.jpg", "videoDuration": 1000}
    payload = {
        "uuid": uuid.uuid4().hex,
        "bizType": "M2V_EXPORT",
        "taskId": task_id,
        "status": status,
        "errorMsg": "Test failure from send_test_notice" if normalised == TaskStatus.FAILED else "",
        "result": {"exportVideos": [video]} if normalised == TaskStatus.SUCCESS else {},
    }
    headers["Topview-Uid"] = settings.TOPVIEW_UID or "test-topview-uid"
    return json.dumps(payload).encode(), headers


def _readable(answer: bytes) -> str:
    """The answer body, pretty-printed when it is JSON."""
    text = answer.decode("utf-8", errors="replace")
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text
