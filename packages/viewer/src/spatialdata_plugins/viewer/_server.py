"""The local HTTP server that serves the store's elements to the browser in neuroglancer's precomputed formats."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


@dataclass
class ServedRequest:
    """One answered request: its path, the kind of source, the element, what was asked and the bytes sent."""

    path: str
    kind: str
    element: str
    part: str
    nbytes: int


@dataclass
class ServeLog:
    """What the server sent, request by request (thread-safe)."""

    requests: list[ServedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: ServedRequest) -> None:
        with self.lock:
            self.requests.append(item)

    def clear(self) -> None:
        """Forget every request logged so far (e.g. between two views)."""
        with self.lock:
            self.requests.clear()

    def snapshot(self) -> list[ServedRequest]:
        """A copy of the requests logged so far."""
        with self.lock:
            return list(self.requests)

    def annotation_chunks(self, element: str | None = None) -> list[ServedRequest]:
        """The spatial-index chunk requests of points and shapes (of one element if given)."""
        return [
            r
            for r in self.snapshot()
            if r.kind in ("points", "shapes") and r.part.startswith("spatial") and element in (None, r.element)
        ]

    def bytes_by_kind(self) -> dict[str, int]:
        """Bytes sent per source kind (``points``, ``shapes``, ``images``, ``labels``)."""
        out: Counter[str] = Counter()
        for r in self.snapshot():
            out[r.kind] += r.nbytes
        return dict(out)


class DataServer:
    """Serve annotation and volume sources over HTTP on ``host:port`` (a daemon thread per request).

    Paths: ``/<kind>/<element>/info`` and, for ``points`` and ``shapes``, ``/<kind>/<element>/spatial<l>/<i>_<j>_<k>``
    and ``/<kind>/<element>/by_id/<id>``; for ``images`` and ``labels``, ``/<kind>/<element>/s<k>/<x0>-<x1>_<y0>-<y1>_
    <z0>-<z1>``. Every answer allows any origin (the neuroglancer client is served from another port).

    Parameters
    ----------
    sources
        ``{kind: {element name: source}}``.
    host, port
        Where to listen; port 0 picks a free port.
    """

    def __init__(self, sources: dict[str, dict[str, Any]], host: str = "127.0.0.1", port: int = 0) -> None:
        self.sources = sources
        self.log = ServeLog()
        handler = type("Handler", (_Handler,), {"data_server": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="sdp-viewer-data", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the socket (waits for the serving thread)."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)

    def answer(self, path: str) -> tuple[int, bytes, str]:
        """Status, body and content type of a GET of ``path``."""
        parts = [unquote(p) for p in path.split("?")[0].split("/") if p]
        if len(parts) < 3 or parts[0] not in self.sources or parts[1] not in self.sources[parts[0]]:
            return 404, b"not found", "text/plain"
        kind, name, rest = parts[0], parts[1], parts[2:]
        source = self.sources[kind][name]
        if rest == ["info"]:
            return 200, json.dumps(source.info()).encode(), "application/json"
        body = None
        try:
            if kind in ("points", "shapes") and len(rest) == 2 and rest[0] == "by_id":
                body = source.by_id(int(rest[1]))
            elif kind in ("points", "shapes") and len(rest) == 2 and rest[0].startswith("spatial"):
                i, j, _ = (int(v) for v in rest[1].split("_"))
                body = source.chunk(int(rest[0][len("spatial") :]), i, j)
            elif kind in ("images", "labels") and len(rest) == 2:
                bounds = [tuple(int(v) for v in b.split("-")) for b in rest[1].split("_")]
                body = source.chunk(rest[0], bounds) if len(bounds) == 3 else None
        except ValueError:
            body = None
        if body is None:
            return 404, b"not found", "text/plain"
        return 200, body, "application/octet-stream"


class _Handler(BaseHTTPRequestHandler):
    data_server: DataServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # the viewer's requests are logged in ServeLog instead
        pass

    def _headers(self, status: int, length: int, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        try:
            status, body, ctype = self.data_server.answer(self.path)
        except Exception as exc:  # a failing source must not kill the server; the browser sees the error
            status, body, ctype = 500, f"{type(exc).__name__}: {exc}".encode(), "text/plain"
        parts = [unquote(p) for p in self.path.split("?")[0].split("/") if p]
        if status == 200 and len(parts) >= 3:
            self.data_server.log.add(ServedRequest(self.path, parts[0], parts[1], "/".join(parts[2:]), len(body)))
        self._headers(status, len(body), ctype)
        self.wfile.write(body)
