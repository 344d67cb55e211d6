"""Print the notice URL to give Topview (the original design's ngrok flow, automated)."""

import json
from urllib.error import URLError
from urllib.request import urlopen

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

NGROK_API = "http://127.0.0.1:4040/api/tunnels"


class Command(BaseCommand):
    help = (
        "Print the URL Topview should post notices to: PUBLIC_BASE_URL's, else the running "
        "ngrok tunnel's (read from ngrok's local API), with the first of NOTICE_TOKENS."
    )

    def add_arguments(self, parser):
        parser.add_argument("--ngrok-api", default=NGROK_API, help="ngrok's local API")

    def handle(self, *, ngrok_api, **options):
        base = settings.PUBLIC_BASE_URL or self.ngrok_url(ngrok_api)
        token = settings.NOTICE_TOKENS[0] if settings.NOTICE_TOKENS else ""
        self.stdout.write(f"{base}/notice/topview" + (f"/{token}" if token else ""))

    def ngrok_url(self, api: str) -> str:
        try:
            with urlopen(api, timeout=2) as answer:
                tunnels = json.load(answer).get("tunnels", [])
        except (URLError, OSError, ValueError):
            raise CommandError(
                "No PUBLIC_BASE_URL and no ngrok tunnel. Start one with `ngrok http 8000`, "
                "or set PUBLIC_BASE_URL to the public URL of this service."
            ) from None
        https = [t["public_url"] for t in tunnels if str(t.get("public_url", "")).startswith("https://")]
        if not https:
            raise CommandError("ngrok runs but has no https tunnel: start `ngrok http 8000`")
        return https[0].rstrip("/")
