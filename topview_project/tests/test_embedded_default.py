"""The service as a user starts it, in a process of its own, reached over HTTP.

With no DATABASE_URL and no broker it runs on SQLite and processes notices in-process; with a
database that does not answer, it says 503 quickly and logs the error id it answers with.
"""

import time

from .servers import GUNICORN, RUNSERVER, bare_env, free_port, manage, post, served


def test_sqlite_and_in_process_tasks_work_with_nothing_configured(tmp_path):
    env = bare_env(tmp_path)
    assert manage("migrate", "--noinput", env=env).returncode == 0
    with served(RUNSERVER, env, tmp_path / "server.log") as url:
        status, answer = post(url)
    assert (status, answer["code"]) == (200, "200")
    check = manage("shell", "--no-imports", "-c", "from tasks.models import Task; from notices.models "
                   "import Notice; print(Task.objects.get().status, Notice.objects.get().state)", env=env)
    assert check.stdout.split() == ["success", "done"], check.stderr


def test_an_unreachable_database_is_a_quick_503_with_the_logged_error_id(tmp_path):
    nobody = f"postgres://postgres@127.0.0.1:{free_port()}/nothing"
    env = bare_env(tmp_path, DATABASE_URL=nobody, DJANGO_DEBUG="0")
    log = tmp_path / "server.log"
    with served(GUNICORN, env, log) as url:
        started = time.monotonic()
        status, answer = post(url)
        elapsed = time.monotonic() - started
    assert status == 503 and answer["success"] is False
    assert set(answer) == {"success", "error", "error_id"}
    assert f"error id {answer['error_id']}" in log.read_text()
    assert elapsed < 10  # a generous bound on DB_CONNECT_TIMEOUT (3 s): the server did not hang
