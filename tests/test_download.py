"""The real pooch download path, against a local HTTP server on 127.0.0.1.

No internet: a ThreadingHTTPServer on an ephemeral loopback port serves small
synthetic files, and the handler counts the requests so caching is observable.
"""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labmf.data.download import (
    ENV_VAR,
    REGISTRY,
    DownloadError,
    RemoteFile,
    UnknownHashError,
    data_dir,
    fetch,
)

PAYLOAD = b"userId,movieId,rating,timestamp\n" + b"1,31,2.5,1260759144\n" * 500


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def server():
    """Serves ``files[path] = (body, mode)``; mode "ok" or "truncate"."""
    files: dict[str, tuple[bytes, str]] = {}
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            hits.append(self.path)
            if self.path not in files:
                self.send_error(404)
                return
            body, mode = files[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if mode == "truncate":
                # Promise the whole file, send half, hang up.
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, *args):  # keep pytest output quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield base, files, hits
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _registry(base, name, known_hash):
    return {name: RemoteFile(name, f"{base}/{name}", known_hash, None, "test")}


def test_success_is_cached_and_reused_without_a_second_request(server, tmp_path):
    base, files, hits = server
    files["/data.csv"] = (PAYLOAD, "ok")
    reg = _registry(base, "data.csv", f"sha256:{sha256(PAYLOAD)}")
    path = fetch("data.csv", cache_dir=tmp_path, registry=reg)
    assert path == tmp_path / "data.csv"
    assert path.read_bytes() == PAYLOAD
    assert hits == ["/data.csv"]
    again = fetch("data.csv", cache_dir=tmp_path, registry=reg)
    assert again == path
    assert hits == ["/data.csv"]  # served from the cache
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_md5_known_hash_is_accepted(server, tmp_path):
    base, files, hits = server
    files["/data.csv"] = (PAYLOAD, "ok")
    reg = _registry(base, "data.csv", f"md5:{hashlib.md5(PAYLOAD).hexdigest()}")
    assert fetch("data.csv", cache_dir=tmp_path, registry=reg).read_bytes() == PAYLOAD


def test_hash_mismatch_is_rejected_and_nothing_is_cached(server, tmp_path):
    base, files, hits = server
    files["/data.csv"] = (PAYLOAD, "ok")
    reg = _registry(base, "data.csv", f"sha256:{sha256(b'another file')}")
    with pytest.raises(DownloadError) as info:
        fetch("data.csv", cache_dir=tmp_path, registry=reg)
    msg = str(info.value)
    assert "data.csv" in msg and f"{base}/data.csv" in msg and "hash" in msg
    assert str(tmp_path / "data.csv") in msg  # where to put the file by hand
    assert list(tmp_path.iterdir()) == []  # no file, no temporary left behind


def test_truncated_transfer_is_rejected(server, tmp_path):
    base, files, hits = server
    files["/data.csv"] = (PAYLOAD, "truncate")
    reg = _registry(base, "data.csv", f"sha256:{sha256(PAYLOAD)}")
    with pytest.raises(DownloadError, match="data.csv"):
        fetch("data.csv", cache_dir=tmp_path, registry=reg)
    assert list(tmp_path.iterdir()) == []


def test_truncated_file_with_consistent_length_fails_the_hash(server, tmp_path):
    base, files, hits = server
    files["/data.csv"] = (PAYLOAD[:100], "ok")  # the server itself holds a cut file
    reg = _registry(base, "data.csv", f"sha256:{sha256(PAYLOAD)}")
    with pytest.raises(DownloadError, match="hash"):
        fetch("data.csv", cache_dir=tmp_path, registry=reg)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupted_cached_file_is_downloaded_again(server, tmp_path):
    base, files, hits = server
    files["/data.csv"] = (PAYLOAD, "ok")
    reg = _registry(base, "data.csv", f"sha256:{sha256(PAYLOAD)}")
    (tmp_path / "data.csv").write_bytes(b"garbage")
    assert fetch("data.csv", cache_dir=tmp_path, registry=reg).read_bytes() == PAYLOAD
    assert hits == ["/data.csv"]


def test_a_file_placed_by_hand_is_used_offline(tmp_path):
    # Port 9 on loopback: nothing listens, so any request would fail.
    reg = {"data.csv": RemoteFile("data.csv", "http://127.0.0.1:9/data.csv",
                                  f"sha256:{sha256(PAYLOAD)}")}
    (tmp_path / "data.csv").write_bytes(PAYLOAD)
    assert fetch("data.csv", cache_dir=tmp_path, registry=reg).read_bytes() == PAYLOAD


def test_offline_error_names_file_url_and_manual_location(tmp_path):
    reg = {"data.csv": RemoteFile("data.csv", "http://127.0.0.1:9/data.csv",
                                  f"sha256:{sha256(PAYLOAD)}")}
    with pytest.raises(DownloadError) as info:
        fetch("data.csv", cache_dir=tmp_path, registry=reg, timeout=5)
    msg = str(info.value)
    assert "http://127.0.0.1:9/data.csv" in msg
    assert str(tmp_path / "data.csv") in msg
    assert ENV_VAR in msg
    assert not (tmp_path / "data.csv").exists()


def test_http_error_is_a_download_error(server, tmp_path):
    base, files, hits = server
    reg = _registry(base, "missing.csv", f"sha256:{sha256(PAYLOAD)}")
    with pytest.raises(DownloadError, match="missing.csv"):
        fetch("missing.csv", cache_dir=tmp_path, registry=reg)
    assert not (tmp_path / "missing.csv").exists()


def test_unknown_hash_is_refused_before_any_request(server, tmp_path):
    base, files, hits = server
    files["/ratings.pt"] = (PAYLOAD, "ok")
    reg = _registry(base, "ratings.pt", None)
    with pytest.raises(UnknownHashError, match="ratings.pt"):
        fetch("ratings.pt", cache_dir=tmp_path, registry=reg)
    assert hits == []
    # A hash supplied by the user makes it downloadable.
    path = fetch("ratings.pt", cache_dir=tmp_path, registry=reg, known_hash=sha256(PAYLOAD))
    assert path.read_bytes() == PAYLOAD


def test_cache_dir_follows_the_environment_variable(server, tmp_path, monkeypatch):
    base, files, hits = server
    files["/data.csv"] = (PAYLOAD, "ok")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "cache"))
    assert data_dir() == tmp_path / "cache"
    reg = _registry(base, "data.csv", f"sha256:{sha256(PAYLOAD)}")
    assert fetch("data.csv", registry=reg) == tmp_path / "cache" / "data.csv"


def test_unknown_name_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        fetch("ml-99k.zip", cache_dir=tmp_path)


def test_registry_hashes_are_well_formed():
    for name, entry in REGISTRY.items():
        assert entry.name == name and entry.url.startswith("https://")
        assert entry.hash_source
        if entry.known_hash is not None:
            alg, hexdigest = entry.known_hash.split(":")
            assert alg == "sha256" and len(hexdigest) == 64
            int(hexdigest, 16)
    assert REGISTRY["ratings.pt"].known_hash is None


def test_a_corrupted_cached_file_offline_says_the_cache_failed_its_hash(tmp_path):
    # Issue 21, item 7: the cached copy fails its hash and nothing answers on port 9.
    reg = {"data.csv": RemoteFile("data.csv", "http://127.0.0.1:9/data.csv", f"sha256:{sha256(PAYLOAD)}")}
    (tmp_path / "data.csv").write_bytes(b"garbage")
    with pytest.raises(DownloadError) as info:
        fetch("data.csv", cache_dir=tmp_path, registry=reg, timeout=5)
    msg = str(info.value)
    assert msg.startswith(f"the cached copy {tmp_path / 'data.csv'} failed its hash check (sha256 "
                          f"{sha256(b'garbage')}, expected {sha256(PAYLOAD)}), and downloading it again from "
                          "http://127.0.0.1:9/data.csv failed")
