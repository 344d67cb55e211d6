"""DJANGO_ENV=production: `check --deploy` is clean with what it needs, and refuses without it."""

import secrets

from .servers import manage

PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
    "DJANGO_ALLOWED_HOSTS": "notices.example.com",
    "NOTICE_TOKENS": secrets.token_urlsafe(32),
    "ARCHIVE_ALLOWED_HOSTS": "cdn.topview.ai",
}


def deploy_check(env_overrides, **removed):
    import os

    env = {**os.environ, **env_overrides}
    for name in removed:
        env.pop(name, None)
    return manage("check", "--deploy", "--fail-level", "WARNING", env=env)


def test_check_deploy_reports_nothing():
    done = deploy_check(PRODUCTION)
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout


def test_production_refuses_to_start_without_its_secrets():
    for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "NOTICE_TOKENS",
                 "ARCHIVE_ALLOWED_HOSTS"):
        env = {k: v for k, v in PRODUCTION.items() if k != name}
        done = deploy_check(env, **{name: None})
        assert done.returncode != 0 and "ImproperlyConfigured" in done.stderr, name
    assert deploy_check({**PRODUCTION, "DJANGO_DEBUG": "1"}).returncode != 0
