"""Real media for the media-library tests, made with ffmpeg at test time, and a small
helper that puts files into an account's bucket with `openice media put`, registers them
through the SDK and waits (with a deadline, never a fixed sleep) for the background probe.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from icehelpers import TIME_RE

MEDIA_ID_RE = re.compile(r"^[0-9a-f]{32}$")

# How long a probe may take before a test gives up (the issue: poll with a deadline).
PROBE_DEADLINE = 20.0
FINAL_STATUSES = ("Normal", "PrepareFail")
ORDER = {"Init": 0, "Preparing": 1, "Normal": 2, "PrepareFail": 2}

VIDEO_SECONDS = 3
VIDEO_SIZE = (320, 240)
AUDIO_SECONDS = 2
IMAGE_SIZE = (64, 48)


@dataclass(frozen=True)
class MediaFiles:
    video: Path  # 3 s lavfi testsrc 320x240 @25 + 440 Hz sine, H.264/AAC in MP4
    audio: Path  # 2 s sine, AAC in M4A, no video
    image: Path  # one 64x48 PNG
    truncated: Path  # the first 2 KB of `video`
    empty: Path  # zero bytes

    def path(self, kind: str) -> Path:
        return getattr(self, kind)

    def ext(self, kind: str) -> str:
        return self.path(kind).suffix


def _ffmpeg(*args: str) -> None:
    p = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"ffmpeg {' '.join(args)} failed: {p.stderr}"


def make_media_files(out: Path) -> MediaFiles:
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        pytest.fail("ffmpeg and ffprobe are needed for the media tests (scripts/test.sh installs them)")
    w, h = VIDEO_SIZE
    video = out / "video.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=duration={VIDEO_SECONDS}:size={w}x{h}:rate=25",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={VIDEO_SECONDS}",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast",
        "-c:a", "aac", "-shortest", str(video),
    )
    audio = out / "audio.m4a"
    _ffmpeg("-f", "lavfi", "-i", f"sine=frequency=880:sample_rate=44100:duration={AUDIO_SECONDS}",
            "-c:a", "aac", str(audio))
    iw, ih = IMAGE_SIZE
    image = out / "image.png"
    _ffmpeg("-f", "lavfi", "-i", f"testsrc=size={iw}x{ih}", "-frames:v", "1", str(image))
    truncated = out / "truncated.mp4"
    truncated.write_bytes(video.read_bytes()[:2048])
    empty = out / "empty.mp4"
    empty.write_bytes(b"")
    return MediaFiles(video, audio, image, truncated, empty)


@dataclass
class Fetched:
    status: int
    headers: dict
    body: bytes


def fetch(url: str, headers: dict | None = None) -> Fetched:
    """GET with urllib; HTTP errors are answers too."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return Fetched(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    except urllib.error.HTTPError as e:
        return Fetched(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def wait_probed(api, media_id: str, deadline: float = PROBE_DEADLINE, server=None) -> dict:
    """Polls GetMediaInfo until the media leaves Init/Preparing; answers the raw MediaInfo."""
    end = time.monotonic() + deadline
    seen = []
    while True:
        info = api.get_media(media_id=media_id).raw["MediaInfo"]
        status = info["MediaBasicInfo"]["Status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        # Init → Preparing → Normal | PrepareFail, never backwards (decisions.md "Status flow").
        order = [ORDER[s] if s in ORDER else -1 for s in seen]
        assert -1 not in order and order == sorted(order), f"Status went {seen}"
        if status in FINAL_STATUSES:
            return info
        if time.monotonic() > end:
            log = server.log_text() if server is not None else ""
            raise AssertionError(f"media {media_id} not probed within {deadline} s (statuses {seen})\n{log}")
        time.sleep(0.05)


class Library:
    """One account's media library: an SDK client, its own bucket and the session's files."""

    def __init__(self, server, api, files: MediaFiles):
        self.server = server
        self.api = api
        self.files = files
        self.bucket = f"lib-{secrets.token_hex(6)}"

    @property
    def account_id(self) -> str:
        return self.api.creds.account_id

    def key(self, kind: str) -> str:
        return f"in/{kind}-{secrets.token_hex(4)}{self.files.ext(kind)}"

    def put(self, kind: str, key: str | None = None, bucket: str | None = None) -> str:
        """Copies the session's `kind` file to oss://bucket/key with the CLI; answers the URL."""
        bucket = bucket or self.bucket
        key = key or self.key(kind)
        url = f"oss://{bucket}/{key}"
        out = self.server.put_media(self.files.path(kind), url, account=self.account_id)
        assert out == {"InputURL": url, "FileSize": self.files.path(kind).stat().st_size}, out
        return url

    def register(self, kind: str, key: str | None = None, **kw: Any) -> tuple[str, str]:
        """Puts and registers a file; answers (MediaId, InputURL)."""
        url = self.put(kind, key)
        r = self.api.register_media(input_url=url, **kw)
        assert set(r.raw) == {"RequestId", "MediaId"}, r.raw
        return r.raw["MediaId"], url

    def stub(self, ext: str = ".mp4", **kw: Any) -> tuple[str, str]:
        """Registers a zero-byte object named `*ext` (MediaType follows the extension);
        answers (MediaId, InputURL). For tests about metadata only: such a file fails its
        probe at once, without running ffprobe, which keeps the shared probe queue short."""
        url = self.put("empty", f"in/stub-{secrets.token_hex(4)}{ext}")
        r = self.api.register_media(input_url=url, **kw)
        assert set(r.raw) == {"RequestId", "MediaId"}, r.raw
        return r.raw["MediaId"], url

    def wait(self, media_id: str, deadline: float = PROBE_DEADLINE) -> dict:
        return wait_probed(self.api, media_id, deadline, self.server)

    def ready(self, kind: str, **kw: Any) -> tuple[str, dict]:
        """Registers a file and waits for its probe; answers (MediaId, MediaInfo)."""
        media_id, _ = self.register(kind, **kw)
        return media_id, self.wait(media_id)


# ---- wire-type checks (api-projects-media.md Part B: every MediaBasicInfo field a string but
# CateId, an integer; every FileBasicInfo and stream-info value a string)


def check_basic_info(b: dict) -> None:
    for k, v in b.items():
        if k == "CateId":
            assert type(v) is int, (k, v)
        else:
            assert isinstance(v, str), (k, v)
    assert MEDIA_ID_RE.match(b["MediaId"]), b
    for k in ("CreateTime", "ModifiedTime"):
        assert TIME_RE.match(b[k]), (k, b[k])
    assert b["Status"] in ("Init", "Preparing", "PrepareFail", "Normal"), b


def check_file_info(f: dict) -> None:
    assert set(f) <= {"FileBasicInfo", "VideoStreamInfoList", "AudioStreamInfoList", "SubtitleStreamInfoList"}, f
    for k, v in f["FileBasicInfo"].items():
        assert isinstance(v, str), (k, v)
    for name in ("VideoStreamInfoList", "AudioStreamInfoList", "SubtitleStreamInfoList"):
        for item in f.get(name, []):
            for k, v in item.items():
                assert isinstance(v, str), (name, k, v)


def check_media_info(info: dict) -> None:
    assert info["MediaId"] == info["MediaBasicInfo"]["MediaId"]
    check_basic_info(info["MediaBasicInfo"])
    for f in info.get("FileInfoList", []):
        check_file_info(f)
