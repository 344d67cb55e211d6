"""`make demo` as a user runs it: every step printed in order, everything it started stopped."""

import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from topview_project.tests.servers import ROOT, bare_env

STEPS = ["fake Topview", "database", "worker", "web server", "user", "live page", "submitted",
         "callback received", "notice processed", "page updated", "task success",
         "media archived", "media archived", "done"]


def answers(url: str) -> bool:
    """Anything listens at url's port (an HTTP error is an answer too)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@pytest.mark.parametrize("deliveries", ["twice", "out-of-order"])
def test_the_demo_prints_each_step_and_stops_what_it_started(tmp_path, deliveries):
    done = subprocess.run(
        [sys.executable, "demo/run.py", "--delay", "0.5", "--deliveries", deliveries,
         "--timeout", "60"],
        cwd=ROOT, env=bare_env(tmp_path), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    steps = [re.match(r"\[\s*[\d.]+s\] ([^:]+):", line).group(1) for line in done.stdout.splitlines()]
    assert steps == STEPS
    assert "verification: confirmed" in done.stdout  # the notice was checked with the fake
    fake_url = re.search(r"listening at (http://\S+);", done.stdout).group(1)
    web_url = re.search(r"serving at (http://\S+) ", done.stdout).group(1)
    video = re.search(r"-> success, video (\S+)", done.stdout).group(1)
    assert video.startswith(f"{fake_url}/media/") and video.endswith("/video.mp4")
    task_id = re.search(r"Topview taskId (\S+),", done.stdout).group(1)
    assert re.search(rf"page updated: .*{re.escape(task_id)} \| M2V_EXPORT \| success \| done",
                     done.stdout)
    copies = re.findall(r"media archived: (video|cover): (\d+) bytes", done.stdout)
    assert sorted(role for role, _ in copies) == ["cover", "video"]
    assert all(int(size) > 0 for _, size in copies)
    assert not answers(fake_url + "/") and not answers(web_url + "/healthz")
