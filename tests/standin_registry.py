"""A local stand-in for the npm registry and a Python simple index, served on loopback.

``with StandInRegistry() as registry:`` serves, on 127.0.0.1 and a free port:

* ``/npm/<name>`` (a scoped name's ``/`` escaped as ``%2f``, as npm clients send it): the package's
  metadata with ``versions[v].dist.tarball`` and ``.integrity``;
* ``/simple/<project>/``: PEP 691 JSON when asked for it, else a PEP 503 HTML page with
  ``#sha256=`` fragments;
* ``/files/<file>``: the bytes.

``registry.environment()`` gives the variables that point the product at it.  ``cut_after`` makes a
file's download break off after that many bytes (a killed download); ``lie`` serves other bytes
than those the digest was made of; ``hits`` counts requests per path; ``json_pages = False`` makes the
simple index answer HTML even to a client that asks for JSON (an index without PEP 691).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sri_sha512(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


class StandInRegistry:
    def __init__(self):
        self.npm: dict[str, dict] = {}
        self.pypi: dict[str, list] = {}
        self.files: dict[str, bytes] = {}
        self.cut_after: dict[str, int] = {}
        self.hits: dict[str, int] = {}
        self.json_pages = True     # False: the simple index answers PEP 503 HTML whatever is asked for
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, body: bytes, kind: str, length: int | None = None):
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(length if length is not None else len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = urllib.parse.unquote(self.path.split("?")[0])
                registry.hits[path] = registry.hits.get(path, 0) + 1
                if path.startswith("/npm/") and path[5:] in registry.npm:
                    return self._send(json.dumps(registry.npm[path[5:]]).encode(), "application/json")
                if path.startswith("/simple/"):
                    project = path[len("/simple/"):].strip("/")
                    if project in registry.pypi:
                        entries = registry.pypi[project]
                        if registry.json_pages and "pypi.simple.v1+json" in (self.headers.get("Accept") or ""):
                            body = json.dumps({"meta": {"api-version": "1.0"}, "name": project, "files": [
                                {"filename": f, "url": f"/files/{f}", "hashes": {"sha256": h}} for f, h in entries]})
                            return self._send(body.encode(), "application/vnd.pypi.simple.v1+json")
                        links = "".join(f'<a href="../../files/{f}#sha256={h}">{f}</a>' for f, h in entries)
                        return self._send(f"<html><body>{links}</body></html>".encode(), "text/html")
                if path.startswith("/files/") and path[7:] in registry.files:
                    name = path[7:]
                    data = registry.files[name]
                    if name in registry.cut_after:
                        self._send(data[: registry.cut_after[name]], "application/octet-stream", len(data))
                        self.wfile.flush()
                        self.connection.shutdown(2)
                        return
                    return self._send(data, "application/octet-stream")
                self.send_response(404)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        return {"NEURAL_RENDER_NPM_REGISTRY": self.base + "/npm/", "NEURAL_RENDER_PYPI_INDEX": self.base + "/simple/"}

    def add_npm(self, name: str, version: str, tarball: bytes, lie: bytes | None = None) -> str:
        """Serve ``tarball`` as ``name@version``; returns its integrity string (of ``tarball``, even when
        ``lie`` is what is served)."""
        file = f"{name.replace('/', '-').lstrip('@')}-{version}.tgz"
        self.files[file] = lie if lie is not None else tarball
        integrity = sri_sha512(tarball)
        self.npm.setdefault(name, {"name": name, "versions": {}})["versions"][version] = {
            "name": name, "version": version, "dist": {"tarball": f"{self.base}/files/{file}", "integrity": integrity}}
        return integrity

    def add_pypi(self, project: str, filename: str, data: bytes) -> str:
        """Serve ``data`` as ``filename`` of ``project``; returns ``sha256:<hex>``."""
        digest = hashlib.sha256(data).hexdigest()
        self.files[filename] = data
        self.pypi.setdefault(project, []).append((filename, digest))
        return f"sha256:{digest}"
