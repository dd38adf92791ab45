"""The probe queue is durable: media registered but not yet probed when the server is
SIGKILLed are probed after it restarts on the same store, and project durations that
depend on them are recomputed (issue: "Probing runs in the background … The probe queue is
durable"; decisions.md "Media library").

A dedicated server runs with one probe worker and `--fetch-allow 127.0.0.1`. Its worker is
held busy by an allow-listed http URL whose origin (below) stalls, so everything registered
afterwards provably stays `Init` until the kill. After the kill the origin serves the file.
"""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from icehelpers import Api, timeline
from mediafiles import Library, wait_probed


class StallingOrigin:
    """An http origin that holds every request until release(), then serves `data`
    (with Range support, which ffprobe uses for MP4)."""

    def __init__(self, data: bytes):
        self.data = data
        self.released = threading.Event()
        self.requests = 0
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                origin.requests += 1
                if not origin.released.wait(60):
                    return
                body, status, extra = origin.data, 200, {}
                m = re.match(r"bytes=(\d*)-(\d*)$", self.headers.get("Range", ""))
                if m and (m.group(1) or m.group(2)):
                    n = len(body)
                    if m.group(1):
                        start = int(m.group(1))
                        end = min(int(m.group(2)) if m.group(2) else n - 1, n - 1)
                    else:
                        start, end = max(n - int(m.group(2)), 0), n - 1
                    body, status = body[start:end + 1], 206
                    extra["Content-Range"] = f"bytes {start}-{end}/{n}"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "video/mp4")
                    self.send_header("Accept-Ranges", "bytes")
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the reader went away

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def origin(media_files):
    o = StallingOrigin(media_files.video.read_bytes())
    yield o
    o.close()


def _status(api, media_id: str) -> str:
    return api.get_media(media_id=media_id).raw["MediaInfo"]["MediaBasicInfo"]["Status"]


def test_unprobed_media_are_probed_after_sigkill(make_server, media_files, origin):
    srv = make_server("--probe-workers", "1", "--fetch-allow", "127.0.0.1")
    creds = srv.create_account()
    api = Api(srv.endpoint, creds, "v3")
    lib = Library(srv, api, media_files)

    # Occupy the only probe worker with a URL whose origin does not answer yet.
    remote = f"http://127.0.0.1:{origin.port}/slow/clip.mp4"
    stuck = api.register_media(input_url=remote).raw["MediaId"]
    deadline = time.monotonic() + 20
    while not (origin.requests and _status(api, stuck) == "Preparing"):
        assert time.monotonic() < deadline, f"the worker never picked up {stuck}:\n{srv.log_text()}"
        time.sleep(0.05)

    queued = {kind: lib.register(kind)[0] for kind in ("video", "audio", "image", "truncated")}
    project = api.create(title="waits for its media", timeline=timeline({"MediaId": queued["video"]})).raw["Project"]
    assert project["Duration"] == 0  # unknown until probed
    for media_id in queued.values():
        assert _status(api, media_id) == "Init"
    assert _status(api, stuck) == "Preparing"

    srv.kill()
    origin.release()
    srv.restart()
    api = Api(srv.endpoint, creds, "v3")

    infos = {kind: wait_probed(api, media_id, server=srv) for kind, media_id in queued.items()}
    infos["remote"] = wait_probed(api, stuck, server=srv)
    status = {k: v["MediaBasicInfo"]["Status"] for k, v in infos.items()}
    assert status == {"video": "Normal", "audio": "Normal", "image": "Normal", "truncated": "PrepareFail",
                      "remote": "Normal"}, srv.log_text()
    fb = infos["video"]["FileInfoList"][0]["FileBasicInfo"]
    assert (fb["Width"], fb["Height"]) == ("320", "240")
    assert float(fb["Duration"]) == pytest.approx(3, abs=0.1)
    assert infos["audio"]["MediaBasicInfo"]["MediaType"] == "audio"
    remote_fb = infos["remote"]["FileInfoList"][0]["FileBasicInfo"]
    assert float(remote_fb["Duration"]) == pytest.approx(3, abs=0.1)
    assert infos["remote"]["MediaBasicInfo"]["Source"] == "general"

    # The project's Duration is recomputed once its media is probed.
    deadline = time.monotonic() + 20
    while True:
        d = api.get(project["ProjectId"]).raw["Project"]["Duration"]
        if d == pytest.approx(3, abs=0.05):
            break
        assert time.monotonic() < deadline, f"project Duration stayed {d}"
        time.sleep(0.05)

    assert srv.stop() == 0


def test_update_during_probe_is_kept(make_server, origin):
    """UpdateMediaInfo while the media is being probed: the probe's result must not undo it
    (a CoverURL given by the caller wins over any snapshot; decisions.md "RegisterMediaInfo
    extras")."""
    srv = make_server("--probe-workers", "1", "--fetch-allow", "127.0.0.1")
    api = Api(srv.endpoint, srv.create_account(), "v3")
    media_id = api.register_media(input_url=f"http://127.0.0.1:{origin.port}/clip.mp4", title="before").raw["MediaId"]
    deadline = time.monotonic() + 20
    while not (origin.requests and _status(api, media_id) == "Preparing"):
        assert time.monotonic() < deadline, f"the worker never picked up {media_id}:\n{srv.log_text()}"
        time.sleep(0.05)
    api.update_media(media_id=media_id, title="during", description="d", media_tags="kept",
                     cover_url="https://example.com/mine.png", user_data='{"u":1}')
    origin.release()
    info = wait_probed(api, media_id, server=srv)
    b = info["MediaBasicInfo"]
    assert b["Status"] == "Normal"
    got = {k: b.get(k) for k in ("Title", "Description", "MediaTags", "CoverURL", "UserData")}
    assert got == {"Title": "during", "Description": "d", "MediaTags": "kept", "CoverURL": "https://example.com/mine.png",
                   "UserData": '{"u":1}'}
    assert float(info["FileInfoList"][0]["FileBasicInfo"]["Duration"]) == pytest.approx(3, abs=0.1)
