"""A file server on 127.0.0.1 for download tests, with the misbehaviours real servers show.

Each served file has a `Behaviour`: drop the connection half-way or answer 503
(for its first few requests), ignore Range headers, serve wrong bytes, answer 200
with an HTML page, or 404; send no Content-Length (or a bogus one) and end the body by
closing the connection, append bytes beyond the file, or send slowly and stop half-way
until released. Every request's path and headers are recorded in `requests`.
"""
from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

HTML_PAGE = b"<!DOCTYPE html>\n<html><body><h1>Access denied</h1></body></html>\n"
BLOCK = 64 * 1024  # bytes written at a time, so that pace, hold and sent apply block by block


@dataclass
class Behaviour:
    data: bytes
    drops: int = 0              # how many of the next requests are cut after `drop_at` body bytes
    drop_at: int | None = None  # default: half of what the request would receive
    ignore_range: bool = False
    wrong_bytes: bool = False
    html: bool = False
    html_content_type: str = "text/html; charset=utf-8"
    html_body: bytes = HTML_PAGE
    missing: bool = False
    unavailable: int = 0        # how many of the next requests get 503 Service Unavailable
    content_length: str | None = None  # sent instead of the true length ("": none); the body then ends by closing
    extra: int = 0              # zero bytes sent after the file's bytes
    pace: float = 0.0           # seconds between blocks of the body
    hold: threading.Event | None = None  # when set: half of the body, then wait for this event
    sent: int = field(default=0, init=False)  # body bytes written to the socket, all requests together


@dataclass(frozen=True)
class SeenRequest:
    path: str
    headers: dict[str, str]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-body is what several tests arrange: no report on stderr."""


class FileServer:
    """Serves `files` (name -> Behaviour) at http://127.0.0.1:PORT/files/NAME; use as a context manager."""

    def __init__(self):
        self.files: dict[str, Behaviour] = {}
        self.requests: list[SeenRequest] = []
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/files"

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def requests_for(self, name: str) -> list[SeenRequest]:
        return [r for r in self.requests if unquote(r.path).rsplit("/", 1)[-1] == name]

    def __enter__(self) -> "FileServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(SeenRequest(self.path, dict(self.headers.items())))
                name = unquote(self.path).rsplit("/", 1)[-1]
                behaviour = server.files.get(name)
                if behaviour is None or behaviour.missing:
                    self._send(404, b"not found\n", "text/plain")
                    return
                if behaviour.unavailable > 0:
                    behaviour.unavailable -= 1
                    self._send(503, b"try again later\n", "text/plain")
                    return
                if behaviour.html:
                    self._send(200, behaviour.html_body, behaviour.html_content_type)
                    return
                data = bytes(b ^ 0xFF for b in behaviour.data) if behaviour.wrong_bytes else behaviour.data
                data += bytes(behaviour.extra)
                start = _range_start(self.headers.get("Range"))
                if start is not None and not behaviour.ignore_range:
                    if start >= len(data):
                        self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(data)}"})
                        return
                    body, status = data[start:], 206
                    extra = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
                else:
                    body, status, extra = data, 200, {}
                length = str(len(body)) if behaviour.content_length is None else behaviour.content_length
                if behaviour.drops > 0:
                    behaviour.drops -= 1
                    cut = behaviour.drop_at if behaviour.drop_at is not None else len(body) // 2
                    self._send(status, body[:cut], "application/octet-stream", extra, length, behaviour)
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self._send(status, body, "application/octet-stream", extra, length, behaviour)
                if behaviour.content_length is not None:  # the client knows the end only when the connection closes
                    self.close_connection = True

            def _send(self, status: int, body: bytes, content_type: str, extra: dict | None = None,
                      length: str | None = None, behaviour: Behaviour | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if length != "":
                    self.send_header("Content-Length", str(len(body)) if length is None else length)
                self.send_header("Accept-Ranges", "bytes")
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if behaviour is None:
                    self.wfile.write(body)
                    return
                for start in range(0, len(body), BLOCK):
                    if behaviour.hold is not None and start >= len(body) // 2 > start - BLOCK:
                        self.wfile.flush()
                        behaviour.hold.wait(30)
                    self.wfile.write(body[start:start + BLOCK])
                    behaviour.sent += len(body[start:start + BLOCK])
                    time.sleep(behaviour.pace)

        return Handler


def _range_start(header: str | None) -> int | None:
    match = re.match(r"^bytes=(\d+)-$", header or "")
    return int(match.group(1)) if match else None
