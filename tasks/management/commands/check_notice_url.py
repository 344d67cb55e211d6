"""Ask Topview to check our notice URL (`/notice/notice_url/check`) before tasks name it."""

from django.core.management.base import BaseCommand, CommandError

from tasks.topview_client import TopviewClient, TopviewError, notice_url


class Command(BaseCommand):
    help = (
        "Ask Topview to check the notice URL it will post callbacks to: by default "
        "PUBLIC_BASE_URL/notice/topview/<first of NOTICE_TOKENS>. Exits non-zero if Topview "
        "cannot be asked or refuses it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", help="Check this URL instead of the configured one.")

    def handle(self, *, url, **options):
        try:
            url = url or notice_url()
            answer = TopviewClient.from_settings().check_notice_url(url)
        except TopviewError as error:
            raise CommandError(f"Topview did not accept the check: {error}") from None
        self.stdout.write(f"Topview checked {url}: {answer}")
