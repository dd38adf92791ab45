"""Project materials through the official SDK: AddEditingProjectMaterials,
DeleteEditingProjectMaterials, GetEditingProjectMaterials (seed 003), MaterialMaps on
CreateEditingProject, and project Duration from probed media (api-projects-media.md A7-A9,
decisions.md "Media library" / "Editing projects").

GetEditingProjectMaterials' model in the SDK knows fewer MediaBasicInfo/FileBasicInfo fields
than GetMediaInfo's; the behavioural tests here tolerate extra fields (`api.exact = False`)
and test_materials_answer_only_fields_the_sdk_knows checks them on its own.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from icehelpers import Api, expect_error, timeline
from mediafiles import Library, check_basic_info, fetch

ABSENT = "0123456789abcdef0123456789abcdef"
LIVE = {
    "appName": "testrecord",
    "domainName": "test.alivecdn.com",
    "liveUrl": "rtmp://test.alivecdn.com/testrecord/teststream",
    "streamName": "teststream",
}
LIVE_WIRE = {"AppName": "testrecord", "DomainName": "test.alivecdn.com",
             "LiveUrl": "rtmp://test.alivecdn.com/testrecord/teststream", "StreamName": "teststream"}
FILE_KEYS = {"FileName", "FileStatus", "FileType", "FileSize", "FileUrl", "Region", "FormatName", "Duration",
             "Bitrate", "Width", "Height"}


@pytest.fixture
def mlib(lib):
    lib.api.exact = False
    return lib


@pytest.fixture
def mlib_v3(lib_v3):
    lib_v3.api.exact = False
    return lib_v3


def check_materials(raw: dict, project_id: str) -> dict[str, dict]:
    """The A9 shape; answers the media infos by MediaId."""
    assert set(raw) == {"RequestId", "ProjectId", "MediaInfos", "LiveMaterials", "ProjectMaterials"}, raw
    assert raw["ProjectId"] == project_id
    assert isinstance(raw["LiveMaterials"], list) and isinstance(raw["ProjectMaterials"], list)
    out = {}
    for m in raw["MediaInfos"]:
        assert m["MediaId"] == m["MediaBasicInfo"]["MediaId"]
        check_basic_info(m["MediaBasicInfo"])
        for f in m.get("FileInfoList", []):
            assert set(f) == {"FileBasicInfo"}, f
            for k, v in f["FileBasicInfo"].items():
                assert isinstance(v, str), (k, v)
        assert m["MediaId"] not in out, "a media listed twice"
        out[m["MediaId"]] = m
    for p in raw["ProjectMaterials"]:
        assert isinstance(p, str)
    return out


def materials(api, project_id: str) -> dict[str, dict]:
    return check_materials(api.get_materials(project_id).raw, project_id)


def maps(**kinds) -> str:
    return json.dumps({k: ",".join(v) if isinstance(v, (list, tuple)) else v for k, v in kinds.items()})


def test_add_and_get_materials(mlib, media_files):
    api = mlib.api
    video, video_url = mlib.stub(".mp4")
    audio, _ = mlib.stub(".m4a")
    image, _ = mlib.register("image")
    pid = api.create(title="with materials").raw["Project"]["ProjectId"]
    assert materials(api, pid) == {}
    r = api.add_materials(project_id=pid, material_maps=maps(video=[video], audio=[audio], image=[image]))
    got = check_materials(r.raw, pid)
    assert set(got) == {video, audio, image}
    assert r.raw["LiveMaterials"] == [] and r.raw["ProjectMaterials"] == []
    assert got[video]["MediaBasicInfo"]["InputURL"] == video_url
    assert got[image]["MediaBasicInfo"]["MediaType"] == "image"
    fb = got[image]["FileInfoList"][0]["FileBasicInfo"]
    assert fetch(fb["FileUrl"]).body == media_files.image.read_bytes()
    # Get answers the same materials; adding them again makes no duplicates.
    assert set(materials(api, pid)) == {video, audio, image}
    r = api.add_materials(project_id=pid, material_maps=maps(video=[video], image=[image]))
    assert set(check_materials(r.raw, pid)) == {video, audio, image}
    sdk = api.get_materials(pid).resp.body
    assert {m.media_id for m in sdk.media_infos} == {video, audio, image}


def test_materials_carry_probed_file_info(mlib_v3):
    api = mlib_v3.api
    video, _ = mlib_v3.ready("video")
    pid = api.create(title="p", material_maps=maps(video=[video])).raw["Project"]["ProjectId"]
    m = materials(api, pid)[video]
    assert m["MediaBasicInfo"]["Status"] == "Normal"
    [f] = m["FileInfoList"]
    fb = f["FileBasicInfo"]
    assert (fb["Width"], fb["Height"], fb["FileStatus"], fb["FileType"]) == ("320", "240", "Normal", "source_file")
    assert float(fb["Duration"]) == pytest.approx(3, abs=0.1)
    assert "mp4" in fb["FormatName"]


def test_delete_materials(mlib_v3):
    api = mlib_v3.api
    video, _ = mlib_v3.stub(".mp4")
    image, _ = mlib_v3.stub(".png")
    audio, _ = mlib_v3.stub(".m4a")
    pid = api.create(title="p", material_maps=maps(video=[video], image=[image], audio=[audio])).raw["Project"][
        "ProjectId"]
    r = api.delete_materials(project_id=pid, material_type="video", material_ids=video)
    assert set(r.raw) == {"RequestId"}
    assert set(materials(api, pid)) == {image, audio}
    # IDs not attached are no error.
    api.delete_materials(project_id=pid, material_type="image", material_ids=f"{ABSENT},{image}")
    assert set(materials(api, pid)) == {audio}
    # The media themselves are untouched.
    assert api.get_media(media_id=video).raw["MediaInfo"]["MediaId"] == video
    ids11 = ",".join(uuid.uuid4().hex for _ in range(11))
    expect_error(lambda: api.delete_materials(project_id=pid, material_type="audio", material_ids=ids11),
                 "InvalidParameter", 400, "MaterialIds")
    expect_error(lambda: api.delete_materials(project_id=pid, material_type="movie", material_ids=audio),
                 "InvalidParameter", 400, "MaterialType")
    expect_error(lambda: api.delete_materials(project_id=pid, material_ids=audio), "MissingParameter", 400,
                 "MaterialType")
    expect_error(lambda: api.delete_materials(project_id=pid, material_type="audio"), "MissingParameter", 400,
                 "MaterialIds")
    assert set(materials(api, pid)) == {audio}


def test_create_with_material_maps_of_every_kind(mlib):
    api = mlib.api
    video, _ = mlib.stub(".mp4")
    audio, _ = mlib.stub(".m4a")
    image, _ = mlib.stub(".png")
    other = api.create(title="regular").raw["Project"]["ProjectId"]
    mm = json.dumps({
        "video": video,
        "audio": audio,
        "image": image,
        "liveStream": json.dumps([LIVE]),  # itself a JSON array in a string
        "editingProject": other,
    })
    pid = api.create(title="all kinds", material_maps=mm).raw["Project"]["ProjectId"]
    raw = api.get_materials(pid).raw
    assert set(check_materials(raw, pid)) == {video, audio, image}
    assert raw["LiveMaterials"] == [LIVE_WIRE]
    assert raw["ProjectMaterials"] == [other]
    sdk = api.get_materials(pid).resp.body
    assert sdk.live_materials[0].stream_name == "teststream" and sdk.project_materials == [other]
    # The same through AddEditingProjectMaterials.
    pid2 = api.create(title="added later").raw["Project"]["ProjectId"]
    r = api.add_materials(project_id=pid2, material_maps=json.dumps({"liveStream": json.dumps([LIVE]),
                                                                      "editingProject": other}))
    assert r.raw["LiveMaterials"] == [LIVE_WIRE] and r.raw["ProjectMaterials"] == [other]
    assert r.raw["MediaInfos"] == []


def test_ten_materials_per_type(mlib_v3):
    api = mlib_v3.api
    images = [mlib_v3.stub(".png")[0] for _ in range(10)]
    pid = api.create(title="ten", material_maps=maps(image=images)).raw["Project"]["ProjectId"]
    assert set(materials(api, pid)) == set(images)
    eleven = images + [uuid.uuid4().hex]
    expect_error(lambda: api.add_materials(project_id=pid, material_maps=maps(image=eleven)), "InvalidParameter",
                 400, "MaterialMaps")


BAD_MAPS = {
    "eleven-ids": lambda ids: maps(video=[uuid.uuid4().hex for _ in range(11)]),
    "unknown-type": lambda ids: maps(movie=[ids["video"]]),
    "not-json": lambda ids: "{video:",
    "array": lambda ids: json.dumps([ids["video"]]),
    "unknown-media": lambda ids: maps(video=[ABSENT]),
    "foreign-media": lambda ids: maps(image=[ids["foreign"]]),
    "unknown-project": lambda ids: maps(editingProject=[ABSENT]),
    "live-not-array": lambda ids: json.dumps({"liveStream": "not json"}),
}


@pytest.mark.parametrize("case", list(BAD_MAPS))
def test_bad_material_maps_are_invalid(server, mlib_v3, case):
    api = mlib_v3.api
    foreign = Library(server, Api(server.endpoint, server.create_account(), "v3"), mlib_v3.files)
    ids = {"video": mlib_v3.stub(".mp4")[0], "foreign": foreign.stub(".png")[0]}
    mm = BAD_MAPS[case](ids)
    before = api.search(page_size=100).raw["TotalCount"]
    expect_error(lambda: api.create(title="bad", material_maps=mm), "InvalidParameter", 400, "MaterialMaps")
    assert api.search(page_size=100).raw["TotalCount"] == before  # no project was made
    pid = api.create(title="target").raw["Project"]["ProjectId"]
    expect_error(lambda: api.add_materials(project_id=pid, material_maps=mm), "InvalidParameter", 400,
                 "MaterialMaps")
    assert materials(api, pid) == {}


def test_unknown_or_foreign_project(server, mlib_v3):
    api = mlib_v3.api
    video, _ = mlib_v3.stub(".mp4")
    mm = maps(video=[video])
    for pid in (ABSENT, Api(server.endpoint, server.create_account(), "v3").create(title="theirs").raw["Project"][
            "ProjectId"]):
        expect_error(lambda: api.get_materials(pid), "ProjectNotFound", 404)
        expect_error(lambda: api.add_materials(project_id=pid, material_maps=mm), "ProjectNotFound", 404)
        expect_error(lambda: api.delete_materials(project_id=pid, material_type="video", material_ids=video),
                     "ProjectNotFound", 404)
    expect_error(lambda: api.get_materials(None), "MissingParameter", 400, "ProjectId")
    pid = api.create(title="mine").raw["Project"]["ProjectId"]
    expect_error(lambda: api.add_materials(project_id=pid), "MissingParameter", 400, "MaterialMaps")


def test_timeline_media_are_materials(mlib_v3):
    api = mlib_v3.api
    video, _ = mlib_v3.stub(".mp4")
    audio, _ = mlib_v3.stub(".m4a")
    image, _ = mlib_v3.stub(".png")
    tl = json.dumps({
        "VideoTracks": [{"VideoTrackClips": [{"MediaId": video, "Out": 2}, {"MediaId": ABSENT, "Out": 1}]}],
        "AudioTracks": [{"AudioTrackClips": [{"MediaId": audio}]}],
    })
    pid = api.create(title="timeline", timeline=tl, material_maps=maps(image=[image])).raw["Project"]["ProjectId"]
    assert set(materials(api, pid)) == {video, audio, image}  # unknown IDs are not listed
    # A new timeline changes the implicit materials; explicit ones stay.
    api.update(project_id=pid, timeline=timeline({"MediaId": audio, "Out": 1}))
    assert set(materials(api, pid)) == {audio, image}


def test_deleted_media_leave_material_lists(mlib_v3):
    api = mlib_v3.api
    video, _ = mlib_v3.stub(".mp4")
    image, _ = mlib_v3.stub(".png")
    pid = api.create(title="p", material_maps=maps(video=[video], image=[image])).raw["Project"]["ProjectId"]
    api.delete_media(media_ids=video)
    assert set(materials(api, pid)) == {image}


def test_materials_answer_only_fields_the_sdk_knows(lib_v3):
    # A9 (seed 003) lists every MediaBasicInfo and FileBasicInfo field of this answer;
    # api-projects-media.md Part D: "serialize exactly the PascalCase keys listed". The SDK
    # model of GetEditingProjectMaterials/AddEditingProjectMaterials drops anything else
    # (CreateTime/ModifiedTime in FileBasicInfo, CateId/CateName/ReferenceId).
    api = lib_v3.api
    cate = api.add_category(cate_name="c").raw["Category"]["CateId"]
    video, _ = lib_v3.stub(".mp4", cate_id=cate, reference_id="material-ref")
    pid = api.create(title="p").raw["Project"]["ProjectId"]
    api.exact = False
    r = api.add_materials(project_id=pid, material_maps=maps(video=[video]))
    problems = {"Add": unknown_fields_of(r)}
    r = api.get_materials(pid)
    problems["Get"] = unknown_fields_of(r)
    fb = r.raw["MediaInfos"][0]["FileInfoList"][0]["FileBasicInfo"]
    problems["FileBasicInfo keys outside A9"] = sorted(set(fb) - FILE_KEYS)
    assert problems == {"Add": [], "Get": [], "FileBasicInfo keys outside A9": []}


def unknown_fields_of(r) -> list[str]:
    from icehelpers import unknown_fields

    return unknown_fields(r.body, r.raw)


# ---- project Duration from probed media (decisions.md "Editing projects": a clip whose
# length is unknown counts as 0 until its duration is known)


def _duration_eventually(api, pid: str, expected: float, deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while True:
        d = api.get(pid).raw["Project"]["Duration"]
        if d == pytest.approx(expected, abs=0.05):
            return
        assert time.monotonic() < end, f"Duration stayed {d}, expected {expected}"
        time.sleep(0.05)


def test_project_duration_uses_probed_media(lib_v3):
    api = lib_v3.api
    video, _ = lib_v3.register("video")
    # Created at once, most likely before the probe finished: recomputed when it does.
    pid = api.create(title="no out", timeline=timeline({"MediaId": video})).raw["Project"]
    assert pid["Duration"] in (0, pytest.approx(3, abs=0.05))
    _duration_eventually(api, pid["ProjectId"], 3)
    # After probing: In without Out runs to the media's end.
    p = api.create(title="in only", timeline=timeline({"MediaId": video, "In": 1})).raw["Project"]
    assert p["Duration"] == pytest.approx(2, abs=0.05)
    p = api.create(title="speed", timeline=timeline({"MediaId": video, "In": 1, "Speed": 2})).raw["Project"]
    assert p["Duration"] == pytest.approx(1, abs=0.05)
    # Audio-only timelines use the audio clips.
    audio, _ = lib_v3.ready("audio")
    tl = json.dumps({"AudioTracks": [{"AudioTrackClips": [{"MediaId": audio}]}]})
    p = api.create(title="audio", timeline=tl).raw["Project"]
    assert p["Duration"] == pytest.approx(2, abs=0.05)
    assert api.get(p["ProjectId"]).raw["Project"]["Duration"] == pytest.approx(2, abs=0.05)
    # A media that failed its probe has no length.
    broken, _ = lib_v3.ready("truncated")
    p = api.create(title="broken", timeline=timeline({"MediaId": broken})).raw["Project"]
    assert p["Duration"] == 0


def test_other_accounts_media_never_give_duration(server, lib_v3):
    other = Library(server, Api(server.endpoint, server.create_account(), "v3"), lib_v3.files)
    theirs, _ = other.ready("video")
    p = lib_v3.api.create(title="foreign", timeline=timeline({"MediaId": theirs})).raw["Project"]
    assert p["Duration"] == 0
    assert lib_v3.api.get(p["ProjectId"]).raw["Project"]["Duration"] == 0
