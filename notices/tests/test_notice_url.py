import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import CommandError, call_command


def run(*args) -> str:
    out = io.StringIO()
    call_command("notice_url", *args, stdout=out)
    return out.getvalue().strip()


def test_the_public_base_url_with_the_first_token(settings):
    settings.PUBLIC_BASE_URL = "https://notices.example.com"
    settings.NOTICE_TOKENS = ["first-token-0123456789", "second-token-012345678"]
    assert run() == "https://notices.example.com/notice/topview/first-token-0123456789"


@pytest.fixture
def ngrok_api():
    """A stand-in for ngrok's local API, answering /api/tunnels as ngrok does."""

    class Tunnels(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"tunnels": [
                {"public_url": "http://ab12.ngrok-free.app", "proto": "http"},
                {"public_url": "https://ab12.ngrok-free.app", "proto": "https"},
            ]}).encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Tunnels)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/api/tunnels"
    server.shutdown()


def test_the_ngrok_tunnel_when_no_public_url_is_set(settings, ngrok_api):
    settings.PUBLIC_BASE_URL, settings.NOTICE_TOKENS = "", []
    assert run("--ngrok-api", ngrok_api) == "https://ab12.ngrok-free.app/notice/topview"


def test_without_either_it_says_how_to_start_one(settings):
    settings.PUBLIC_BASE_URL = ""
    with pytest.raises(CommandError, match="ngrok http 8000"):
        run("--ngrok-api", "http://127.0.0.1:9/api/tunnels")
