"""Live updates in a real browser: headless Chromium, daphne (as docker-compose.yml runs it),
PostgreSQL, Redis and a Celery worker.

Notices are posted over HTTP as Topview posts them; the worker processes them and broadcasts
through Redis pub/sub to daphne, which holds the browser's sockets. The browser runs in a
thread of its own: Playwright's sync API runs an event loop in its thread, where Django's
database calls refuse to run.
"""

import json
import os
import shlex
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.request import Request, urlopen

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import sync_playwright

from conftest import ROOT, database_url
from tasks.models import Task
from topview_project.tests.servers import RUNSERVER, bare_env, free_port, manage, served

pytestmark = pytest.mark.integration
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STAFF_PASSWORD = "a-staff-password-for-the-test"
# Shown as text, or it would set the page's title.
XSS_TASK_ID = "<img src=x onerror=\"document.title='pwned'\">"
# A socket's messages, kept in the page; resolves once the socket is open.
LISTEN = """() => new Promise((opened) => {
  window.seen = [];
  const socket = new WebSocket("ws://" + location.host + "/ws/tasks/");
  socket.onmessage = (event) => window.seen.push(JSON.parse(event.data));
  socket.onopen = opened;
})"""
SEES = "([taskId, status]) => window.seen.some((m) => m.taskId === taskId && m.status === status)"


@pytest.fixture
def daphne_url(celery_worker_process, tmp_path, wait_until):
    """docker-compose.yml's `live` service, as the file gives it (only the address moved), on the
    test database: it serves the pages, the notice URL and the sockets. Ready: its health check passes."""
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["live"]
    port = str(free_port())
    moved = lambda text: text.replace("0.0.0.0", "127.0.0.1").replace("8001", port)  # noqa: E731
    env = {**os.environ, "DATABASE_URL": database_url(),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    log = tmp_path / "daphne.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(shlex.split(moved(service["command"])), cwd=ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    check = [moved(part) for part in service["healthcheck"]["test"][1:]]

    def healthy() -> bool:
        return subprocess.run(check, env=env, capture_output=True, timeout=30).returncode == 0

    try:
        wait_until(lambda: server.poll() is not None or healthy(), interval=0.5)
        assert server.poll() is None, log.read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def post_notice(base: str, task_id: str, status: str) -> None:
    body = {"uuid": uuid.uuid4().hex, "taskId": task_id, "status": status, "bizType": "M2V_EXPORT"}
    request = Request(base + "/notice/topview", data=json.dumps(body).encode(),
                      headers={"Content-Type": "application/json"})
    with urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def session_cookie(base: str, user) -> dict:
    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}


def watch_staff_page(browser, base: str) -> dict:
    """A staff user signs in, opens the page, and a notice posted meanwhile appears on it."""
    page = browser.new_page()
    page.goto(base + "/live/notices/")  # Sends us to the admin's sign-in first.
    page.fill("#id_username", "staff")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(base + "/live/notices/")
    page.wait_for_selector('#live-state[data-state="open"]')
    page.evaluate("window.notReloaded = true")
    post_notice(base, XSS_TASK_ID, "running")
    page.wait_for_function(
        "(id) => [...document.querySelectorAll('#notices td')].some((td) => td.textContent === id)",
        arg=XSS_TASK_ID, timeout=30_000)
    return {"not_reloaded": page.evaluate("window.notReloaded === true"),
            "images": page.locator("#notices img").count(), "title": page.title(),
            "first_row": page.locator("#notices tr").first.inner_text()}


def watch_own_tasks(browser, base: str, cookies: dict, own: dict) -> dict:
    """Each user's socket, open on a page of the site, while their tasks' notices are posted."""
    pages = {}
    for name, cookie in cookies.items():
        context = browser.new_context()
        context.add_cookies([cookie])
        pages[name] = context.new_page()
        pages[name].goto(base + "/healthz")
        pages[name].evaluate(LISTEN)
    for name in pages:
        post_notice(base, own[name], "running")
    post_notice(base, own["alice"], "success")
    pages["alice"].wait_for_function(SEES, arg=[own["alice"], "success"], timeout=30_000)
    pages["bob"].wait_for_function(SEES, arg=[own["bob"], "running"], timeout=30_000)
    return {name: page.evaluate("window.seen") for name, page in pages.items()}


def in_browser(watch, *args):
    """`watch(browser, *args)` in headless Chromium, in a thread of its own."""
    def run():
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                return watch(browser, *args)
            finally:
                browser.close()

    with ThreadPoolExecutor(max_workers=1) as browser_thread:
        return browser_thread.submit(run).result(timeout=180)


def assert_shown_as_text(staff: dict) -> None:
    assert staff["not_reloaded"] and staff["images"] == 0 and staff["title"] != "pwned"
    assert XSS_TASK_ID in staff["first_row"] and "done" in staff["first_row"]


@pytest.mark.django_db(transaction=True)
def test_notices_and_task_changes_appear_in_the_open_browser_without_a_reload(daphne_url):
    users = get_user_model().objects
    users.create_user("staff", password=STAFF_PASSWORD, is_staff=True)
    own, cookies = {}, {}
    for name in ("alice", "bob"):
        user = users.create_user(name)
        own[name] = f"{name}-{uuid.uuid4().hex[:8]}"
        Task.objects.create(topview_task_id=own[name], owner=user)
        cookies[name] = session_cookie(daphne_url, user)

    assert_shown_as_text(in_browser(watch_staff_page, daphne_url))
    seen = in_browser(watch_own_tasks, daphne_url, cookies, own)
    for name in ("alice", "bob"):
        assert seen[name] and {message["taskId"] for message in seen[name]} == {own[name]}
    assert Task.objects.get(topview_task_id=own["alice"]).status == "success"


def test_the_default_run_shows_notices_live_too(tmp_path):
    """runserver (daphne), SQLite, in-process tasks and the in-memory layer: nothing installed."""
    env = bare_env(tmp_path, DJANGO_SUPERUSER_USERNAME="staff", DJANGO_SUPERUSER_PASSWORD=STAFF_PASSWORD,
                   DJANGO_SUPERUSER_EMAIL="staff@example.com")
    for command in (["migrate", "--noinput"], ["createsuperuser", "--noinput"]):
        assert manage(*command, env=env).returncode == 0
    with served(RUNSERVER, env, tmp_path / "server.log") as notice_url:
        staff = in_browser(watch_staff_page, notice_url.removesuffix("/notice/topview"))
    assert_shown_as_text(staff)
