"""The media archive against a real HTTP server on 127.0.0.1, into a storage folder of the test's."""

import hashlib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.utils import timezone

from tasks.archive import ArchiveRefused, check_source_url, media_alert, media_archive, media_sweep
from tasks.models import MediaCopy, MediaState, Task
from tasks.services import task_apply_status
from tasks.status import TaskStatus
from tasks.tasks import archive_media
from topview_project import broker

from .media_server import MediaServer

pytestmark = pytest.mark.django_db

VIDEO = bytes(range(256)) * 1000  # 256 kB: several chunks


@pytest.fixture(autouse=True)
def storage(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.ARCHIVE_RETRY_BASE_SECONDS = 60
    return tmp_path / "media"


@pytest.fixture
def media():
    with MediaServer() as server:
        yield server


@pytest.fixture
def handed_on(monkeypatch):
    """The copies handed to the workers, by id: what a worker would be sent."""
    sent = []
    monkeypatch.setattr(broker, "send", lambda task, *args: sent.append((task.name, *args)) or True)
    return sent


def stored(folder):
    """Every file in the storage folder: a refused download leaves none, not even a part."""
    return [path for path in folder.rglob("*") if path.is_file()]


def succeed(task_id, *, video="", cover=""):
    """A notice's success applied to the task, as processing does; committed at once."""
    result = {"exportVideos": [{"videoUrl": video, "coverUrl": cover}]}
    task, _ = task_apply_status(
        topview_task_id=task_id, biz_type="M2V_EXPORT", status=TaskStatus.SUCCESS,
        error_message="", result=result, notify_owner=False,
    )
    return task


def copy_of(url, *, task_id="t-1", expires_in=timedelta(days=7)):
    task = Task.objects.create(topview_task_id=task_id, status="success", video_url=url)
    now = timezone.now()
    return MediaCopy.objects.create(
        task=task, role="video", source_url=url, next_attempt_at=now,
        source_expires_at=now + expires_in,
    )


def test_a_success_records_one_copy_per_result_file_and_hands_each_on_after_commit(
    handed_on, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        task = succeed("t-1", video="https://cdn/v.mp4", cover="https://cdn/c.jpg")
    copies = {copy.role: copy for copy in task.media_copies.all()}
    assert {role: copy.source_url for role, copy in copies.items()} == {
        "video": "https://cdn/v.mp4", "cover": "https://cdn/c.jpg"}
    assert sorted(handed_on) == sorted(("tasks.archive_media", c.pk) for c in copies.values())
    expiry = copies["video"].source_expires_at - copies["video"].created_at
    assert timedelta(days=7) - expiry < timedelta(seconds=1)


def test_a_test_notice_success_is_not_archived(handed_on):
    task_apply_status(topview_task_id="t-1", biz_type="", status=TaskStatus.SUCCESS,
                      error_message="", result={"finishedVideoUrl": "https://cdn/v.mp4"},
                      notify_owner=False, archive_media=False)
    assert not MediaCopy.objects.exists()


def test_a_file_is_archived_with_its_size_and_checksum(media, storage):
    copy = media_archive(copy_id=copy_of(media.serve("/v/final.mp4", VIDEO)).pk)
    assert copy.state == MediaState.DONE and copy.attempts == 1
    assert (copy.size, copy.sha256) == (len(VIDEO), hashlib.sha256(VIDEO).hexdigest())
    assert copy.file.name == "topview/t-1/video.mp4" and copy.content_type == "video/mp4"
    assert (storage / copy.file.name).read_bytes() == VIDEO
    assert Task.objects.get().media["video"].url == "/media/topview/t-1/video.mp4"


def test_the_extension_comes_from_the_content_type_when_the_url_has_none(media):
    url = media.serve("/cover", b"\xff\xd8jpeg", content_type="image/jpeg")
    assert media_archive(copy_id=copy_of(url).pk).file.name == "topview/t-1/video.jpg"


def test_a_server_error_is_retried_later_and_then_succeeds(media):
    copy = copy_of(media.serve("/v.mp4", VIDEO, failures=1))
    failed = media_archive(copy_id=copy.pk)
    assert failed.state == MediaState.FAILED and "500" in failed.last_error
    delay = failed.next_attempt_at - timezone.now()
    assert timedelta(seconds=55) < delay <= timedelta(seconds=60)
    assert not default_storage.exists("topview/t-1/video.mp4")
    done = media_archive(copy_id=copy.pk)
    assert (done.state, done.attempts, done.last_error) == (MediaState.DONE, 2, "")
    assert done.sha256 == hashlib.sha256(VIDEO).hexdigest()


def test_retries_wait_twice_as_long_each_time_up_to_the_cap(media, settings):
    settings.ARCHIVE_RETRY_MAX_SECONDS = 150
    copy = copy_of(media.serve("/v.mp4", VIDEO, failures=5))
    delays = []
    for _ in range(3):
        failed = media_archive(copy_id=copy.pk)
        delays.append(round((failed.next_attempt_at - timezone.now()).total_seconds()))
    assert delays == [60, 120, 150]


def test_a_body_shorter_than_announced_is_not_accepted(media, storage):
    copy = media_archive(copy_id=copy_of(media.serve("/v.mp4", VIDEO, cut_to=1000)).pk)
    assert copy.state == MediaState.FAILED
    assert f"1000 of {len(VIDEO)} bytes" in copy.last_error
    assert not copy.file and stored(storage) == []


def test_a_file_announced_over_the_limit_is_refused_before_its_body(media, settings):
    settings.ARCHIVE_MAX_BYTES = len(VIDEO) - 1
    copy = media_archive(copy_id=copy_of(media.serve("/v.mp4", VIDEO)).pk)
    assert (copy.state, copy.next_attempt_at) == (MediaState.REFUSED, None)  # For good.
    assert f"{len(VIDEO)} bytes announced, over ARCHIVE_MAX_BYTES" in copy.last_error


def test_a_file_without_length_is_cut_off_at_the_limit(media, settings, storage):
    settings.ARCHIVE_MAX_BYTES = 100_000
    copy = media_archive(copy_id=copy_of(media.serve("/v.mp4", VIDEO, no_length=True)).pk)
    assert copy.state == MediaState.REFUSED and "while downloading" in copy.last_error
    assert stored(storage) == []


def test_a_file_without_length_within_the_limit_is_archived(media):
    copy = media_archive(copy_id=copy_of(media.serve("/v.mp4", VIDEO, no_length=True)).pk)
    assert (copy.state, copy.size) == (MediaState.DONE, len(VIDEO))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/v.mp4"])
def test_only_http_urls_are_fetched(url):
    copy = media_archive(copy_id=copy_of(url).pk)
    assert copy.state == MediaState.REFUSED and "not an HTTP(S) URL" in copy.last_error


@pytest.mark.parametrize("url, allowed", [
    ("https://cdn.topview.ai/v.mp4", True),
    ("https://a.b.cloudfront.net/v.mp4", True),
    ("https://CDN.TOPVIEW.AI/v.mp4", True),
    ("https://evil-topview.ai/v.mp4", False),
    ("https://topview.ai.evil.test/v.mp4", False),
    ("http://169.254.169.254/latest/meta-data", False),
])
def test_allowed_hosts_and_their_subdomains_only(settings, url, allowed):
    settings.ARCHIVE_ALLOWED_HOSTS = ["topview.ai", "cloudfront.net"]
    if allowed:
        check_source_url(url)
    else:
        with pytest.raises(ArchiveRefused, match="not in ARCHIVE_ALLOWED_HOSTS"):
            check_source_url(url)


def test_a_star_allows_any_host(settings):
    settings.ARCHIVE_ALLOWED_HOSTS = ["*"]
    check_source_url("http://anywhere.example/v.mp4")
    with pytest.raises(ArchiveRefused, match="not an HTTP"):
        check_source_url("file:///etc/passwd")


def test_a_redirect_is_followed_only_to_an_allowed_host(media, settings):
    settings.ARCHIVE_ALLOWED_HOSTS = ["127.0.0.1"]
    target = media.serve("/final.mp4", VIDEO)
    copy = media_archive(copy_id=copy_of(media.serve("/short", b"", redirect_to=target)).pk)
    assert (copy.state, copy.size) == (MediaState.DONE, len(VIDEO))
    away = media.serve("/away", b"", redirect_to="http://localhost:9/v.mp4")
    copy = media_archive(copy_id=copy_of(away, task_id="t-2").pk)
    assert copy.state == MediaState.REFUSED and "'localhost' is not in" in copy.last_error


def test_a_failure_is_handed_on_again_by_the_sweep_once_due(media, handed_on):
    copy = copy_of(media.serve("/v.mp4", VIDEO, failures=1))
    archive_media.apply(args=[copy.pk])  # As a worker runs it: no retry message of its own.
    copy = MediaCopy.objects.get(pk=copy.pk)
    assert copy.state == MediaState.FAILED and handed_on == []
    assert media_sweep(grace=timedelta(seconds=15), limit=100).copies == 0  # Not due yet.
    MediaCopy.objects.filter(pk=copy.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=16))
    assert media_sweep(grace=timedelta(seconds=15), limit=100).copies == 1
    assert handed_on == [("tasks.archive_media", copy.pk)]
    archive_media.apply(args=[copy.pk])
    assert MediaCopy.objects.get(pk=copy.pk).state == MediaState.DONE


def test_archive_messages_go_to_the_media_queue(settings):
    from topview_project.celery import app

    route = app.amqp.router.route({}, "tasks.archive_media")
    assert route["queue"].name == settings.CELERY_MEDIA_QUEUE
    assert app.amqp.router.route({}, "notices.process_notices")["queue"].name == (
        settings.CELERY_TASK_DEFAULT_QUEUE)


def test_a_copy_done_is_not_downloaded_again(media):
    url = media.serve("/v.mp4", VIDEO)
    copy = media_archive(copy_id=copy_of(url).pk)
    assert media_archive(copy_id=copy.pk).attempts == 1 and media.files["/v.mp4"].hits == 1


def test_a_copy_held_by_another_worker_is_left_alone(media):
    copy = copy_of(media.serve("/v.mp4", VIDEO))
    MediaCopy.objects.filter(pk=copy.pk).update(
        state=MediaState.DOWNLOADING, next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert media_archive(copy_id=copy.pk).state == MediaState.DOWNLOADING
    assert media.files["/v.mp4"].hits == 0


def test_after_topviews_url_expired_it_gives_up(media):
    copy = copy_of(media.serve("/v.mp4", VIDEO), expires_in=timedelta(seconds=-1))
    copy = media_archive(copy_id=copy.pk)
    assert copy.state == MediaState.EXPIRED and "expired" in copy.last_error
    assert media.files["/v.mp4"].hits == 0


def test_the_sweep_hands_on_copies_whose_message_was_lost_and_lapsed_leases(handed_on, settings):
    now = timezone.now()
    lost = copy_of("https://cdn/lost.mp4", task_id="lost")
    MediaCopy.objects.filter(pk=lost.pk).update(next_attempt_at=now - timedelta(minutes=1))
    fresh = copy_of("https://cdn/fresh.mp4", task_id="fresh")  # its message may still come
    dead_worker = copy_of("https://cdn/held.mp4", task_id="held")
    MediaCopy.objects.filter(pk=dead_worker.pk).update(
        state=MediaState.DOWNLOADING, next_attempt_at=now - timedelta(minutes=1))
    sweep = media_sweep(grace=timedelta(seconds=15), limit=100)
    assert sweep.copies == 2
    assert sorted(handed_on) == sorted(
        [("tasks.archive_media", lost.pk), ("tasks.archive_media", dead_worker.pk)])
    assert MediaCopy.objects.get(pk=dead_worker.pk).state == MediaState.FAILED
    assert MediaCopy.objects.get(pk=fresh.pk).state == MediaState.PENDING
    # Handed on: not again before a lease has passed.
    assert media_sweep(grace=timedelta(seconds=15), limit=100).copies == 0


def test_admins_are_told_once_when_a_copy_is_still_missing_near_the_expiry(
    media, settings, handed_on
):
    settings.ADMINS = [("Ops", "ops@example.com")]
    copy = copy_of(media.serve("/v.mp4", VIDEO, failures=99), expires_in=timedelta(hours=2))
    media_archive(copy_id=copy.pk)
    assert media_sweep(grace=timedelta(seconds=15), limit=100).alerts == 1
    assert ("tasks.alert_media_copy", copy.pk) in handed_on
    media_alert(copy_id=copy.pk)
    media_alert(copy_id=copy.pk)
    assert len(mail.outbox) == 1
    assert "The video of task t-1 is not archived" in mail.outbox[0].subject
    assert "HTTP Error 500" in mail.outbox[0].body
    assert media_sweep(grace=timedelta(seconds=15), limit=100).alerts == 0


def test_a_copy_far_from_expiry_raises_no_alert(handed_on):
    copy_of("https://cdn/v.mp4")
    assert media_sweep(grace=timedelta(seconds=15), limit=100).alerts == 0


def test_a_download_that_outlived_its_lease_keeps_nothing(media, storage, monkeypatch):
    """Another worker took the copy over meanwhile: its file is the one kept, ours is deleted."""
    from tasks import archive

    copy = copy_of(media.serve("/v.mp4", VIDEO))
    real_download = archive._download

    def slow_download(claimed):
        done = real_download(claimed)
        MediaCopy.objects.filter(pk=claimed.pk).update(  # A second worker's claim.
            next_attempt_at=timezone.now() + timedelta(minutes=30))
        return done

    monkeypatch.setattr(archive, "_download", slow_download)
    copy = media_archive(copy_id=copy.pk)
    assert copy.state == MediaState.DOWNLOADING and not copy.file
    assert stored(storage) == []
