"""Shared helpers for test_templates.py, test_live_projects.py and test_websdk.py: the template
actions through the official SDK, an error check that admits more than one code, and one
probed 3 s video per storage backend (made with ffmpeg, copied in with `openice media put`,
registered through the SDK and polled until Normal).

Only fixtures of conftest.py that every other test file uses are relied on (`server`, `sig`,
`make_api`, `fresh`); nothing here changes them.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from alibabacloud_ice20201109 import models as ice
from alibabacloud_tea_openapi.exceptions import ClientException

from icehelpers import REQUEST_ID_RE, Api, Result

TEMPLATE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
TEMPLATE_STATUSES = ("Available", "Created", "Uploading", "Processing", "UploadFailed", "ProcessFailed")
SYSTEM_TEMPLATE = "IceSys_SingleVideo_Watermark"

# The vendor's "watermark" regular template (timeline.md §4.2).
WATERMARK = {
    "VideoTracks": [{"VideoTrackClips": [{"MediaId": "$Video", "TimelineIn": "$TimelineIn:0",
                                          "TimelineOut": "$TimelineOut:NULL"}]}],
    "ImageTracks": [{"ImageTrackClips": [{"ImageId": "****e01c****", "Width": 200, "Height": 60, "X": 40, "Y": 40}]}],
}


# ---- template actions (api-templates-jobs.md §1.2-§1.7)


def add_template(api: Api, **kw: Any) -> Result:
    return api.call("add_template", ice.AddTemplateRequest(**kw))


def get_template(api: Api, template_id: str | None, **kw: Any) -> Result:
    return api.call("get_template", ice.GetTemplateRequest(template_id=template_id, **kw))


def update_template(api: Api, **kw: Any) -> Result:
    return api.call("update_template", ice.UpdateTemplateRequest(**kw))


def delete_templates(api: Api, template_ids: str | None) -> Result:
    return api.call("delete_template", ice.DeleteTemplateRequest(template_ids=template_ids))


def list_templates(api: Api, **kw: Any) -> Result:
    return api.call("list_templates", ice.ListTemplatesRequest(**kw))


def template_params(api: Api, template_id: str | None) -> Result:
    return api.call("get_template_params", ice.GetTemplateParamsRequest(template_id=template_id))


def new_template(api: Api, config: Any = None, **kw: Any) -> str:
    """AddTemplate (Type Timeline unless given) → the TemplateId."""
    kw.setdefault("type", "Timeline")
    kw.setdefault("name", f"tpl-{secrets.token_hex(3)}")
    if config is not None:
        kw["config"] = config if isinstance(config, str) else json.dumps(config)
    return add_template(api, **kw).raw["Template"]["TemplateId"]


def expect_error_in(fn: Callable[[], Any], codes: tuple[str, ...], status: int, *names: str) -> ClientException:
    """Like icehelpers.expect_error, for cases where the references allow more than one code."""
    with pytest.raises(ClientException) as info:
        fn()
    e = info.value
    assert (e.code in codes, e.status_code) == (True, status), (e.code, e.status_code, e.message)
    data = e.data
    assert isinstance(data, dict) and data["Code"] == e.code
    assert REQUEST_ID_RE.match(data["RequestId"]), data
    for name in names:
        assert name in data["Message"], (name, data["Message"])
    return e


def project_ids(api: Api) -> list[str]:
    """Every project of the account, regular and live (SearchEditingProject by type)."""
    out: list[str] = []
    for ptype in ("EditingProject", "LiveEditingProject"):
        out += api.project_ids(project_type=ptype)
    return out


def materials(api: Api, project_id: str) -> dict:
    """GetEditingProjectMaterials' raw answer. Its SDK model knows fewer media fields than the
    server sends (test_materials.py checks that on its own), so extra fields are tolerated."""
    exact = api.exact
    api.exact = False
    try:
        return api.get_materials(project_id).raw
    finally:
        api.exact = exact


# ---- one probed 3 s video per backend

PROBE_DEADLINE = 20.0


@dataclass(frozen=True)
class ProbedVideo:
    account_id: str
    creds: Any
    media_id: str
    input_url: str
    duration: float  # as GetMediaInfo reports it


def make_video(out: Path) -> Path:
    """A 3 s 320x240 H.264 MP4 (lavfi testsrc)."""
    if not shutil.which("ffmpeg"):
        pytest.fail("ffmpeg is needed for the WebSDK tests (scripts/test.sh installs it)")
    path = out / "websdk-3s.mp4"
    p = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
         "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert p.returncode == 0, f"ffmpeg failed: {p.stderr}"
    return path


def wait_normal(api: Api, media_id: str, deadline: float = PROBE_DEADLINE) -> dict:
    """Polls GetMediaInfo until Status is Normal (fails on PrepareFail or after `deadline` s)."""
    end = time.monotonic() + deadline
    while True:
        info = api.get_media(media_id=media_id).raw["MediaInfo"]
        status = info["MediaBasicInfo"]["Status"]
        if status == "Normal":
            return info
        assert status in ("Init", "Preparing"), f"media {media_id} ended {status}"
        assert time.monotonic() < end, f"media {media_id} not Normal within {deadline} s (last {status})"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def probed_video(server, tmp_path_factory) -> ProbedVideo:
    """A brand-new account holding one registered, probed 3 s video (once per backend and
    module; the tests make their own projects in it)."""
    creds = server.create_account()
    src = make_video(tmp_path_factory.mktemp("websdk-media"))
    bucket = f"websdk-{secrets.token_hex(5)}"
    url = f"oss://{bucket}/in/clip-{secrets.token_hex(3)}.mp4"
    out = server.put_media(src, url, account=creds.account_id)
    assert out == {"InputURL": url, "FileSize": src.stat().st_size}, out
    api = Api(server.endpoint, creds, "v3")
    api.exact = False  # only GetMediaInfo's status and duration matter here
    media_id = api.register_media(input_url=url).raw["MediaId"]
    info = wait_normal(api, media_id)
    duration = float(info["FileInfoList"][0]["FileBasicInfo"]["Duration"])
    assert duration == pytest.approx(3, abs=0.1), duration
    return ProbedVideo(creds.account_id, creds, media_id, url, duration)
