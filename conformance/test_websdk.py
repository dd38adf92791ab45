"""GetEditingProject with RequestSource=WebSDK through the official SDK (seed 002, timeline.md §5,
shared decisions.md "TimelineConvertStatus"): the timeline answered in the front-end form
(TimelineIn/TimelineOut for every clip, numeric Id and TrackId, FECanvas), the media it
references associated with the project, TimelineConvertStatus Converted; OpenAPI (the default)
converts nothing and omits the field; other values → InvalidParameter. Durations come from a
real 3 s video probed by the server; projects from templates store the filled timeline and
its duration.
"""

from __future__ import annotations

import json

import pytest

from icehelpers import Api, expect_error, is_number, timeline
from templates_support import ProbedVideo, materials, new_template, probed_video  # noqa: F401 (fixture)

FAMILIES = {
    "VideoTracks": "VideoTrackClips",
    "AudioTracks": "AudioTrackClips",
    "ImageTracks": "ImageTrackClips",
    "SubtitleTracks": "SubtitleTrackClips",
    "EffectTracks": "EffectTrackItems",
}


@pytest.fixture
def vapi(server, sig, probed_video: ProbedVideo) -> Api:
    """The probed video's account, signing with the parametrised version."""
    return Api(server.endpoint, probed_video.creds, sig)


def is_int_like(v) -> bool:
    return is_number(v) and float(v).is_integer()


def check_frontend(doc: dict) -> list[dict]:
    """The front-end form's bookkeeping (timeline.md §5); answers every clip."""
    assert isinstance(doc.get("FECanvas"), dict), doc
    assert is_number(doc["FECanvas"]["Width"]) and is_number(doc["FECanvas"]["Height"]), doc["FECanvas"]
    clips = []
    for tracks_key, clips_key in FAMILIES.items():
        track_ids = []
        for track in doc.get(tracks_key, []):
            assert is_int_like(track.get("Id")), (tracks_key, track)
            track_ids.append(track["Id"])
            clip_ids = []
            for clip in track.get(clips_key, []):
                assert is_int_like(clip.get("Id")), (clips_key, clip)
                clip_ids.append(clip["Id"])
                assert clip.get("TrackId") == track["Id"], (clip, track["Id"])
                assert is_number(clip.get("TimelineIn")) and is_number(clip.get("TimelineOut")), clip
                assert 0 <= clip["TimelineIn"] <= clip["TimelineOut"], clip
                clips.append(clip)
            assert len(set(clip_ids)) == len(clip_ids), f"clip Ids repeat in a track: {clip_ids}"
        assert len(set(track_ids)) == len(track_ids), f"track Ids repeat in {tracks_key}: {track_ids}"
    return clips


def websdk(api: Api, pid: str) -> dict:
    r = api.get(pid, request_source="WebSDK")
    p = r.raw["Project"]
    assert p["TimelineConvertStatus"] == "Converted", p
    assert "TimelineConvertErrorMessage" not in p
    assert r.resp.body.project.timeline_convert_status == "Converted"
    return p


def media_ids(raw: dict) -> set[str]:
    return {m["MediaId"] for m in raw["MediaInfos"]}


def test_probed_duration_counts_for_the_project(vapi, probed_video):
    m = probed_video.media_id
    p = vapi.create(title="probed", timeline=timeline({"MediaId": m}, {"MediaId": m, "In": 1})).raw["Project"]
    # 3 s, then 2 s (from In 1 to the 3 s end), one after the other.
    assert p["Duration"] == pytest.approx(5, abs=0.05)
    assert vapi.get(p["ProjectId"]).raw["Project"]["Duration"] == pytest.approx(5, abs=0.05)


def test_websdk_converts_the_timeline(vapi, probed_video):
    m = probed_video.media_id
    stored = {
        "VideoTracks": [{"VideoTrackClips": [{"MediaId": m}, {"MediaId": m, "In": 1, "Title": "kept"}]}],
        "AudioTracks": [{"AudioTrackClips": [{"MediaId": m}]}],
        "SubtitleTracks": [{"SubtitleTrackClips": [{"Type": "Text", "Content": "hello"}]}],
        "EffectTracks": [{"EffectTrackItems": [{"Type": "VFX", "SubType": "heartbeat"}]}],
        "CustomKey": {"a": [1, 2]},
    }
    raw = json.dumps(stored)
    pid = vapi.create(title="to convert", timeline=raw).raw["Project"]["ProjectId"]

    # OpenAPI (the default, or given): no conversion, no status field.
    for source in (None, "OpenAPI"):
        p = vapi.get(pid, request_source=source).raw["Project"]
        assert p["Timeline"] == raw
        assert "TimelineConvertStatus" not in p and "TimelineConvertErrorMessage" not in p

    p = websdk(vapi, pid)
    doc = json.loads(p["Timeline"])
    clips = check_frontend(doc)
    assert len(clips) == 5
    v1, v2 = doc["VideoTracks"][0]["VideoTrackClips"]
    # Placed one after the other with the probed length: [0, 3] and [3, 5].
    assert (v1["TimelineIn"], v1["TimelineOut"]) == (pytest.approx(0), pytest.approx(3, abs=0.05))
    assert (v2["TimelineIn"], v2["TimelineOut"]) == (pytest.approx(3, abs=0.05), pytest.approx(5, abs=0.05))
    [a1] = doc["AudioTracks"][0]["AudioTrackClips"]
    assert (a1["TimelineIn"], a1["TimelineOut"]) == (pytest.approx(0), pytest.approx(3, abs=0.05))
    # What was given is kept: sources, In, unknown keys, subtitle text.
    assert (v1["MediaId"], v2["MediaId"], v2["In"], v2["Title"]) == (m, m, 1, "kept")
    [sub] = doc["SubtitleTracks"][0]["SubtitleTrackClips"]
    assert sub["Content"] == "hello"
    # Untimed subtitles and effects span the whole output (timeline.md §1.5, §1.6).
    assert (sub["TimelineIn"], sub["TimelineOut"]) == (pytest.approx(0), pytest.approx(5, abs=0.05))
    [fx] = doc["EffectTracks"][0]["EffectTrackItems"]
    assert (fx["TimelineIn"], fx["TimelineOut"], fx["SubType"]) == (pytest.approx(0), pytest.approx(5, abs=0.05),
                                                                   "heartbeat")
    assert doc["CustomKey"] == {"a": [1, 2]}
    # Everything else of the project is as OpenAPI answers it.
    plain = vapi.get(pid).raw["Project"]
    for key in set(plain) - {"Timeline", "RequestId"}:
        assert p[key] == plain[key], key
    assert p["Duration"] == pytest.approx(5, abs=0.05)


def test_websdk_keeps_explicit_values(vapi, probed_video):
    m = probed_video.media_id
    given = {"VideoTracks": [{"Id": 5, "VideoTrackClips": [
        {"Id": 9, "MediaId": m, "TimelineIn": 10, "TimelineOut": 12, "In": 0.5, "Out": 2.5},
    ]}], "FECanvas": {"Width": 1280, "Height": 720}}
    pid = vapi.create(title="explicit", timeline=json.dumps(given)).raw["Project"]["ProjectId"]
    doc = json.loads(websdk(vapi, pid)["Timeline"])
    check_frontend(doc)
    track = doc["VideoTracks"][0]
    [clip] = track["VideoTrackClips"]
    assert track["Id"] == 5
    assert (clip["Id"], clip["TrackId"]) == (9, 5)
    assert (clip["TimelineIn"], clip["TimelineOut"], clip["In"], clip["Out"]) == (10, 12, 0.5, 2.5)
    assert doc["FECanvas"] == {"Width": 1280, "Height": 720}


def test_websdk_associates_timeline_media_with_the_project(vapi, probed_video, server):
    m = probed_video.media_id
    foreign_api = Api(server.endpoint, server.create_account(), "v3")
    foreign = "0123456789abcdef0123456789abcdef"  # nobody's media
    tl = timeline({"MediaId": m}, {"MediaId": foreign, "Out": 1})
    converted = vapi.create(title="websdk", timeline=tl).raw["Project"]["ProjectId"]
    untouched = vapi.create(title="openapi only", timeline=tl).raw["Project"]["ProjectId"]

    websdk(vapi, converted)
    listed = materials(vapi, converted)
    assert media_ids(listed) == {m}
    [info] = listed["MediaInfos"]
    assert info["MediaBasicInfo"]["MediaType"] == "video"
    # The association is a project material of its own: it stays when the timeline moves on,
    # unlike for a project never opened by the WebSDK.
    for pid in (converted, untouched):
        vapi.update(project_id=pid, timeline="")
    assert media_ids(materials(vapi, converted)) == {m}
    assert media_ids(materials(vapi, untouched)) == set()
    # A second conversion adds nothing twice.
    vapi.update(project_id=converted, timeline=tl)
    websdk(vapi, converted)
    assert [x["MediaId"] for x in materials(vapi, converted)["MediaInfos"]] == [m]
    # Another account's project or media are not reachable this way.
    expect_error(lambda: foreign_api.get(converted, request_source="WebSDK"), "ProjectNotFound", 404)


def test_other_accounts_media_are_not_associated(vapi, probed_video, server, sig):
    other = Api(server.endpoint, server.create_account(), sig)
    tl = timeline({"MediaId": probed_video.media_id})
    created = other.create(title="borrowing", timeline=tl).raw["Project"]
    # Another account's media contributes no duration and is not associated.
    assert created["Duration"] == 0
    p = websdk(other, created["ProjectId"])
    check_frontend(json.loads(p["Timeline"]))
    assert media_ids(materials(other, created["ProjectId"])) == set()


def test_websdk_on_an_empty_project(vapi):
    pid = vapi.create(title="empty").raw["Project"]["ProjectId"]
    p = websdk(vapi, pid)
    assert p["Duration"] == 0
    if "Timeline" in p:
        doc = json.loads(p["Timeline"])
        assert isinstance(doc, dict) and check_frontend(doc) == [] if doc else doc == {}, doc


@pytest.mark.parametrize("source", ["websdk", "WEBSDK", "Console", "AliyunConsole", " "])
def test_other_request_sources_are_invalid(vapi, source):
    pid = vapi.create(title="rs").raw["Project"]["ProjectId"]
    expect_error(lambda: vapi.get(pid, request_source=source), "InvalidParameter", 400, "RequestSource")


def test_project_from_template_with_probed_media(vapi, probed_video):
    m = probed_video.media_id
    tid = new_template(vapi, {"VideoTracks": [{"VideoTrackClips": [
        {"MediaId": "$Video"},
        {"Sys_Type": "ArrayItems", "Sys_ArrayObject": "$More:NULL", "Sys_Template": {"MediaId": "$MediaId", "In": 2}},
    ]}]})
    clips = json.dumps({"Video": m, "More": [m, {"MediaId": m}]})
    p = vapi.create(title="from template", template_id=tid, clips_param=clips).raw["Project"]
    t = json.loads(p["Timeline"])
    assert [c["MediaId"] for c in t["VideoTracks"][0]["VideoTrackClips"]] == [m, m, m]
    # 3 s + 1 s + 1 s of the probed video.
    assert p["Duration"] == pytest.approx(5, abs=0.05)
    assert (p["TemplateId"], p["ClipsParam"]) == (tid, clips)
    w = websdk(vapi, p["ProjectId"])
    doc = json.loads(w["Timeline"])
    check_frontend(doc)
    outs = [c["TimelineOut"] for c in doc["VideoTracks"][0]["VideoTrackClips"]]
    assert outs == [pytest.approx(3, abs=0.05), pytest.approx(4, abs=0.05), pytest.approx(5, abs=0.05)]
    assert (w["TemplateId"], w["ClipsParam"], w["TemplateType"]) == (tid, clips, "Timeline")
    assert media_ids(materials(vapi, p["ProjectId"])) == {m}


def test_media_url_clips_use_the_probed_length(vapi, probed_video):
    # A clip may name the same media by its OSS URL (timeline.md §1.3).
    tl = timeline({"MediaURL": probed_video.input_url}, {"MediaId": probed_video.media_id})
    p = vapi.create(title="by url", timeline=tl).raw["Project"]
    assert p["Duration"] == pytest.approx(6, abs=0.05)
    doc = json.loads(websdk(vapi, p["ProjectId"])["Timeline"])
    check_frontend(doc)
    c1, c2 = doc["VideoTracks"][0]["VideoTrackClips"]
    assert (c1["TimelineIn"], c1["TimelineOut"]) == (pytest.approx(0), pytest.approx(3, abs=0.05))
    assert (c2["TimelineIn"], c2["TimelineOut"]) == (pytest.approx(3, abs=0.05), pytest.approx(6, abs=0.05))


def test_websdk_on_a_ve_template_project(vapi):
    tid = new_template(vapi, {"oss_url": "http://b.example/t.zip"}, type="VETemplate")
    pid = vapi.create(title="ve", template_id=tid, clips_param='{"video1":"x"}',
                      template_type="VETemplate").raw["Project"]["ProjectId"]
    p = websdk(vapi, pid)
    assert (p["TemplateId"], p["TemplateType"], p["Duration"]) == (tid, "VETemplate", 0)


def test_media_named_by_url_is_associated_too(vapi, probed_video):
    # "The materials in the timeline are associated with the project" (timeline.md §5): a clip
    # naming the caller's media by its OSS URL references that media as much as by MediaId.
    pid = vapi.create(title="url only", timeline=timeline({"MediaURL": probed_video.input_url})).raw["Project"][
        "ProjectId"]
    websdk(vapi, pid)
    vapi.update(project_id=pid, timeline="")
    assert media_ids(materials(vapi, pid)) == {probed_video.media_id}
