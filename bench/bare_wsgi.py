"""The ceiling for `make bench`: a WSGI app answering a constant JSON, touching nothing.

Served by the same gunicorn command and gunicorn.conf.py as the service, so the difference
between the two is what the service itself costs per notice.
"""

BODY = b'{"success": true, "message": "bare"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    wsgi_input = environ["wsgi.input"]
    wsgi_input.read(int(environ.get("CONTENT_LENGTH") or 0))  # Read the body, as the service does.
    start_response("200 OK", HEADERS)
    return [BODY]
