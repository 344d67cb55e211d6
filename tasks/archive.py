"""The media archive: a successful task's video and cover, copied to Django's default storage.

Topview's result URLs work for 7 days only. When a task succeeds, one `MediaCopy` per result
file is recorded in the same transaction, and handed to a worker once committed. The worker
claims it (a lease, the attempt counted, as notices are claimed), streams the file into a
temporary file while counting and hashing it, refuses it if it is larger than ARCHIVE_MAX_BYTES
or shorter than announced, and only then saves it to storage: storage never holds a partial
file. A failure is retried with backoff (the row says when; the sweep hands it on then, as it
does any copy whose message was lost) until Topview's URL expires; the admins are told once when a copy is still
missing ARCHIVE_ALERT_BEFORE_EXPIRY_SECONDS before that.
"""

import hashlib
import logging
import mimetypes
import posixpath
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import get_valid_filename

from topview_project import broker
from topview_project.backoff import doubling

from .alerts import alert_admins_once
from .models import OPEN_MEDIA_STATES, MediaCopy, MediaRole, MediaState, Task
from .tasks import alert_media_copy, archive_media

logger = logging.getLogger(__name__)
_CHUNK = 64 * 1024

class ArchiveRefused(Exception):
    """The file is not what we keep: too large, cut short, or from a URL we do not fetch."""


class ArchiveForbidden(ArchiveRefused):
    """Refused for good (a URL we never fetch, a file over the limit): trying again cannot help."""


def check_source_url(url: str) -> None:
    """Refuse what we must not fetch: anything but HTTP(S), and hosts ARCHIVE_ALLOWED_HOSTS omits.

    A result URL comes from outside (a notice, when Topview's API is not asked to confirm it):
    without this, a forged notice could have a worker read file:// paths or internal services.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise ArchiveForbidden(f"not an HTTP(S) URL: {url[:200]!r}")
    host, allowed = (parts.hostname or "").lower(), settings.ARCHIVE_ALLOWED_HOSTS
    if allowed and "*" not in allowed and not any(
        host == name or host.endswith(f".{name}") for name in allowed
    ):
        raise ArchiveForbidden(f"host {host!r} is not in ARCHIVE_ALLOWED_HOSTS")


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is followed only to a URL we would have fetched in the first place."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_source_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# HTTP(S) only: urllib's default opener would also read file:// and ftp:// URLs.
_OPENER = urllib.request.OpenerDirector()
for _handler in (
    urllib.request.HTTPHandler, urllib.request.HTTPSHandler, _CheckedRedirects,
    urllib.request.HTTPDefaultErrorHandler, urllib.request.HTTPErrorProcessor,
):
    _OPENER.add_handler(_handler())


@dataclass(frozen=True)
class Download:
    name: str
    size: int
    sha256: str
    content_type: str


def media_copies_record(*, tasks: list[Task]) -> list[MediaCopy]:
    """Record a copy of each result file of tasks that have just succeeded, in one INSERT, and
    hand each to the workers once committed; call inside the transaction that moved the tasks.

    A task succeeds once (a final status is never left), so each (task, role) comes here once;
    the unique constraint would refuse a second.
    """
    now = timezone.now()
    expires = now + timedelta(seconds=settings.ARCHIVE_SOURCE_TTL_SECONDS)
    copies = MediaCopy.objects.bulk_create([
        MediaCopy(task=task, role=role, source_url=url, next_attempt_at=now,
                  source_expires_at=expires)
        for task in tasks
        for role, url in ((MediaRole.VIDEO, task.video_url), (MediaRole.COVER, task.cover_url))
        if url
    ])
    for copy in copies:
        broker.send_on_commit(archive_media, copy.pk)
    return copies


def media_archive(*, copy_id: int) -> MediaCopy:
    """Download one copy to storage; a copy done, expired or held by another worker is left alone."""
    copy, claimed = _claim(copy_id)
    if not claimed:
        return copy
    try:
        download = _download(copy)
    except Exception as exc:
        logger.warning("Archiving %s failed (attempt %s): %s", copy, copy.attempts, exc)
        return _record_failure(copy.pk, exc)
    lease_end = copy.next_attempt_at
    with transaction.atomic():
        copy = MediaCopy.objects.select_for_update().select_related("task").get(pk=copy_id)
        if copy.state != MediaState.DOWNLOADING or copy.next_attempt_at != lease_end:
            # Our lease lapsed and another worker took the copy over: its file is the one kept.
            default_storage.delete(download.name)
            logger.warning("Archiving %s outlived its lease; %s discarded", copy, download.name)
            return copy
        copy.file.name = download.name
        copy.size, copy.sha256 = download.size, download.sha256
        copy.content_type = download.content_type[:128]
        copy.state, copy.next_attempt_at, copy.last_error = MediaState.DONE, None, ""
        copy.archived_at = timezone.now()
        copy.save()
    logger.info("Archived %s: %s bytes as %s", copy, download.size, download.name)
    return copy


def _claim(copy_id: int) -> tuple[MediaCopy, bool]:
    now = timezone.now()
    with transaction.atomic():
        copy = MediaCopy.objects.select_for_update().select_related("task").get(pk=copy_id)
        if copy.state in (MediaState.DONE, MediaState.EXPIRED, MediaState.REFUSED):
            return copy, False
        if copy.state == MediaState.DOWNLOADING and copy.next_attempt_at > now:
            return copy, False  # Another worker holds its lease.
        if now >= copy.source_expires_at:
            logger.error("Gave up archiving %s: Topview's URL has expired", copy)
            copy.state, copy.next_attempt_at = MediaState.EXPIRED, None
            copy.last_error = copy.last_error or "Topview's URL expired before it was archived"
        else:  # The attempt is counted now: a worker that dies downloading has used it.
            copy.attempts, copy.state = copy.attempts + 1, MediaState.DOWNLOADING
            copy.next_attempt_at = now + timedelta(seconds=settings.ARCHIVE_LEASE_SECONDS)
        copy.save(update_fields=["attempts", "state", "next_attempt_at", "last_error"])
        return copy, copy.state == MediaState.DOWNLOADING


def _download(copy: MediaCopy) -> Download:
    """Stream the file into a temporary file, checked, then save it to storage; never all in memory."""
    check_source_url(copy.source_url)
    limit = settings.ARCHIVE_MAX_BYTES
    request = urllib.request.Request(copy.source_url, headers={"User-Agent": "topview-notices"})
    with _OPENER.open(request, timeout=settings.ARCHIVE_TIMEOUT_SECONDS) as response:
        announced = response.headers.get("Content-Length")
        expected = int(announced) if announced and announced.isdigit() else None
        if expected is not None and expected > limit:
            raise ArchiveForbidden(f"{expected} bytes announced, over ARCHIVE_MAX_BYTES ({limit})")
        has_type = bool(response.headers.get("Content-Type"))
        content_type = response.headers.get_content_type() if has_type else ""
        digest, size = hashlib.sha256(), 0
        with tempfile.TemporaryFile() as spool:
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ArchiveForbidden(f"over ARCHIVE_MAX_BYTES ({limit}) while downloading")
                digest.update(chunk)
                spool.write(chunk)
            if expected is not None and size != expected:
                raise ArchiveRefused(f"body cut short: {size} of {expected} bytes announced")
            spool.seek(0)
            path = default_storage.generate_filename(_storage_path(copy, content_type))
            name = default_storage.save(path, File(spool))
    return Download(name=name, size=size, sha256=digest.hexdigest(), content_type=content_type)


def _storage_path(copy: MediaCopy, content_type: str) -> str:
    """topview/<taskId>/<role><extension>: the URL's extension, else the content type's."""
    extension = posixpath.splitext(urllib.parse.urlsplit(copy.source_url).path)[1].lower()
    if not (1 < len(extension) <= 6 and extension[1:].isalnum()):
        extension = (mimetypes.guess_extension(content_type) if content_type else None) or ""
    return f"topview/{get_valid_filename(copy.task.topview_task_id)}/{copy.role}{extension}"


def _record_failure(copy_id: int, exc: Exception) -> MediaCopy:
    with transaction.atomic():
        copy = MediaCopy.objects.select_for_update().select_related("task").get(pk=copy_id)
        copy.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if isinstance(exc, ArchiveForbidden):  # Trying again cannot help: refused for good.
            copy.state, copy.next_attempt_at = MediaState.REFUSED, None
        else:
            copy.state = MediaState.FAILED
            copy.next_attempt_at = timezone.now() + retry_delay(copy.attempts)
        copy.save(update_fields=["state", "last_error", "next_attempt_at"])
        return copy


def retry_delay(attempts: int) -> timedelta:
    """Doubling from ARCHIVE_RETRY_BASE_SECONDS, capped at ARCHIVE_RETRY_MAX_SECONDS."""
    return timedelta(seconds=doubling(attempts=attempts, base=settings.ARCHIVE_RETRY_BASE_SECONDS,
                                      cap=settings.ARCHIVE_RETRY_MAX_SECONDS))


@dataclass(frozen=True)
class MediaSweep:
    copies: int
    alerts: int


def media_sweep(*, grace: timedelta, limit: int) -> MediaSweep:
    """Hand on copies overdue by more than `grace` (their message was lost), and due alerts.

    A copy handed on is next due a lease later: its worker takes the lease, or the sweep tries again.
    """
    now = timezone.now()
    with transaction.atomic():
        due = list(
            MediaCopy.objects.select_for_update(skip_locked=True)
            .filter(state__in=OPEN_MEDIA_STATES, next_attempt_at__lte=now - grace)
            .order_by("next_attempt_at")
            .only("pk", "state", "next_attempt_at")[:limit]
        )
        for copy in due:
            copy.next_attempt_at = now + timedelta(seconds=settings.ARCHIVE_LEASE_SECONDS)
            if copy.state == MediaState.DOWNLOADING:
                copy.state = MediaState.FAILED  # Its worker died; the lease lapsed.
        MediaCopy.objects.bulk_update(due, ["next_attempt_at", "state"])
    for copy in due:
        broker.send(archive_media, copy.pk)
    alert_before = timedelta(seconds=settings.ARCHIVE_ALERT_BEFORE_EXPIRY_SECONDS)
    to_alert = list(
        MediaCopy.objects.filter(alerted_at__isnull=True, source_expires_at__lte=now + alert_before)
        .exclude(state=MediaState.DONE)
        .order_by("source_expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    for copy_id in to_alert:
        broker.send(alert_media_copy, copy_id)
    return MediaSweep(copies=len(due), alerts=len(to_alert))


def media_alert(*, copy_id: int) -> MediaCopy:
    """Tell the admins, once, that a copy is still missing close to (or past) Topview's expiry."""
    return alert_admins_once(
        queryset=MediaCopy.objects.select_related("task"), pk=copy_id,
        wanted=lambda copy: copy.state != MediaState.DONE, compose=_missing_copy_alert,
    )


def _missing_copy_alert(copy: MediaCopy) -> tuple[str, str]:
    link = settings.PUBLIC_BASE_URL + reverse("admin:tasks_task_change", args=[copy.task_id])
    return (
        f"The {copy.role} of task {copy.task.topview_task_id} is not archived",
        f"Topview's URL expires at {copy.source_expires_at:%Y-%m-%d %H:%M} UTC and our copy "
        f"is still missing after {copy.attempts} attempts ({copy.get_state_display()}).\n"
        f"Last error: {copy.last_error or 'none'}\nSource: {copy.source_url}\n\n{link}",
    )
