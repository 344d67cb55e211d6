"""The ceiling for `make bench`'s ASGI row: an ASGI app answering a constant JSON, touching
nothing, served by the same gunicorn command with uvicorn's worker (bench/bare_wsgi.py's twin)."""

BODY = b'{"success": true, "message": "bare"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def application(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:  # Read the body, as the service does.
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
