"""The archive into an S3-compatible bucket (django-storages, boto3) served by moto's server."""

import hashlib
import json
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

import boto3
import pytest
from django.utils import timezone

from tasks.archive import media_archive
from tasks.models import MediaCopy, MediaState, Task
from topview_project.tests.servers import ROOT, free_port

from .media_server import MediaServer

pytestmark = pytest.mark.django_db

BUCKET = "topview-archive"
S3_ENV = {
    "ARCHIVE_S3_BUCKET": BUCKET, "ARCHIVE_S3_ENDPOINT_URL": "http://127.0.0.1:1",
    "ARCHIVE_S3_REGION": "us-east-1", "ARCHIVE_S3_ACCESS_KEY_ID": "testing",
    "ARCHIVE_S3_SECRET_ACCESS_KEY": "testing", "ARCHIVE_S3_PREFIX": "media",
}


def s3_settings(endpoint: str) -> dict:
    """settings.STORAGES as settings.py builds it from the ARCHIVE_S3_* variables."""
    script = "from django.conf import settings; import json; print(json.dumps(settings.STORAGES))"
    env = {**S3_ENV, "ARCHIVE_S3_ENDPOINT_URL": endpoint,
           "DJANGO_SETTINGS_MODULE": "topview_project.settings", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {script}"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


@pytest.fixture(scope="module")
def moto_server():
    """moto's S3 on a free port of 127.0.0.1, stopped by its pid."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "moto did not start"
                time.sleep(0.2)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def bucket(moto_server, settings):
    settings.STORAGES = s3_settings(moto_server)
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET)
    yield s3
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])


def test_the_bucket_setting_switches_the_default_storage_to_s3(moto_server):
    storages = s3_settings(moto_server)
    assert storages["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    assert storages["default"]["OPTIONS"]["bucket_name"] == BUCKET
    assert storages["staticfiles"]["BACKEND"].endswith("StaticFilesStorage")


def test_a_file_is_archived_into_the_bucket_privately(bucket, moto_server):
    body = bytes(range(256)) * 400
    with MediaServer() as media:
        url = media.serve("/v.mp4", body)
        task = Task.objects.create(topview_task_id="t-1", status="success", video_url=url)
        now = timezone.now()
        copy = MediaCopy.objects.create(task=task, role="video", source_url=url, next_attempt_at=now,
                                        source_expires_at=now + timedelta(days=7))
        copy = media_archive(copy_id=copy.pk)
    assert copy.state == MediaState.DONE and copy.file.name == "topview/t-1/video.mp4"
    stored = bucket.get_object(Bucket=BUCKET, Key="media/topview/t-1/video.mp4")
    data = stored["Body"].read()
    assert hashlib.sha256(data).hexdigest() == copy.sha256 and len(data) == copy.size == len(body)
    assert stored["ContentType"] == "video/mp4"
    # Our copy's URL is signed and expires: the objects are not public.
    assert copy.url.startswith(f"{moto_server}/{BUCKET}/media/topview/t-1/video.mp4?")
    assert "Signature=" in copy.url or "X-Amz-Signature=" in copy.url
    with urllib.request.urlopen(copy.url, timeout=10) as answer:
        assert answer.read() == body
