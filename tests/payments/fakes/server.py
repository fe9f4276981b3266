"""A real HTTP server on 127.0.0.1 (random port, own thread) that hands each request to a fake gateway."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self._answer("GET")

    def do_POST(self):
        self._answer("POST")

    def _answer(self, method):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload, content_type = self.server.fake.handle(method, parts.path, parts.query, self.headers, body)
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a time-out): its answer is lost, as a real one would be

    def log_message(self, format, *args):
        pass


class FakeServer:
    """Subclasses implement `route(method, path, query, headers, body) -> (status, dict | str[, type])`."""

    def __init__(self):
        self.lock = threading.RLock()
        self.requests = []  # (method, path) of every call, in order
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.httpd.fake = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, method, path, query, headers, body):
        with self.lock:
            self.requests.append((method, path))
        answer = self.route(method, path, query, headers, body)
        status, payload = answer[:2]
        return status, payload, answer[2] if len(answer) > 2 else "application/json"
