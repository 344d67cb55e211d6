"""A small HTTP server on 127.0.0.1 serving result files the way a CDN may, faults included."""

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Served:
    body: bytes
    content_type: str = "video/mp4"
    failures: int = 0  # answer 500 this many times first
    cut_to: int | None = None  # send only this many bytes, announcing them all
    no_length: bool = False  # no Content-Length: the body ends when the connection closes
    redirect_to: str = ""  # answer 302 to this URL instead
    hits: int = 0


class MediaServer:
    def __init__(self) -> None:
        self.files: dict[str, Served] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))

    def __enter__(self) -> "MediaServer":
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve(self, path: str, body: bytes, **options) -> str:
        """Serve `body` at `path`; returns its URL."""
        self.files[path] = Served(body, **options)
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"


def _handler_for(media: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            served = media.files.get(self.path)
            if served is None:
                return self._plain(404, b"not found")
            served.hits += 1
            if served.hits <= served.failures:
                return self._plain(500, b"server error")
            if served.redirect_to:
                return self._plain(302, b"", Location=served.redirect_to)
            self.send_response(200)
            self.send_header("Content-Type", served.content_type)
            if served.no_length:
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(served.body)
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(served.body)))
            if served.cut_to is not None:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(served.body[: served.cut_to])
            self.close_connection = served.cut_to is not None

        def _plain(self, status: int, body: bytes, **headers: str) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:
            pass

    return Handler
