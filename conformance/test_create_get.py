"""CreateEditingProject and GetEditingProject through the official SDK
(api-projects-media.md A1/A2, decisions.md "Editing projects", timeline.md §2-3)."""

from __future__ import annotations

import json

import pytest

from icehelpers import (
    BAD_TIMELINES,
    LIVE_CONFIG,
    PROJECT_ID_RE,
    STATUS_CODES,
    check_time,
    expect_error,
    is_number,
    timeline,
)

# Fields a project object may carry in Create/Get answers, with their JSON types.
STRING_FIELDS = (
    "ProjectId", "Title", "Description", "Timeline", "TemplateId", "ClipsParam", "CoverURL",
    "CreateTime", "ModifiedTime", "CreateSource", "ModifiedSource", "TemplateType",
    "ProjectType", "BusinessConfig", "BusinessStatus",
)


def check_string_fields(project: dict) -> None:
    for name in STRING_FIELDS:
        if name in project:
            assert isinstance(project[name], str), (name, project[name])


def test_create_minimal_answers_vendor_shape(api):
    r = api.create(title="minimal")
    assert set(r.raw) == {"RequestId", "Project"}
    p = r.raw["Project"]
    check_string_fields(p)
    assert PROJECT_ID_RE.match(p["ProjectId"])
    assert p["Title"] == "minimal"
    # Create alone answers Status as an integer plus StatusName (decisions.md "Numbers").
    assert type(p["Status"]) is int and p["Status"] == 1
    assert p["StatusName"] == "Draft"
    assert is_number(p["Duration"]) and p["Duration"] == 0
    check_time(p["CreateTime"])
    check_time(p["ModifiedTime"])
    assert p["CreateTime"] == p["ModifiedTime"]
    assert p["CreateSource"] == "OpenAPI" and p["ModifiedSource"] == "OpenAPI"
    assert p["ProjectType"] == "EditingProject"
    # No template: TemplateType omitted (decisions.md); no live status on a regular project.
    assert "TemplateType" not in p
    assert "BusinessStatus" not in p
    # The SDK model exposes the same values.
    proj = r.resp.body.project
    assert proj.project_id == p["ProjectId"] and proj.status == 1 and proj.status_name == "Draft"


def test_create_echoes_every_given_field(api):
    tl = timeline({"MediaId": "a" * 32, "In": 1, "Out": 4})
    r = api.create(
        title="full",
        description="some description",
        cover_url="https://example-bucket.oss-cn-shanghai.aliyuncs.com/cover.png",
        timeline=tl,
    )
    p = r.raw["Project"]
    assert p["Title"] == "full"
    assert p["Description"] == "some description"
    assert p["CoverURL"] == "https://example-bucket.oss-cn-shanghai.aliyuncs.com/cover.png"
    assert p["Timeline"] == tl
    assert (p["Status"], p["StatusName"]) == (2, "Editing")
    assert p["Duration"] == pytest.approx(3)


def test_get_answers_vendor_shape(api):
    tl = timeline({"MediaId": "b" * 32, "In": 0.5, "Out": 4})
    created = api.create(title="to get", description="d", cover_url="http://x.example/c.png", timeline=tl).raw[
        "Project"
    ]
    r = api.get(created["ProjectId"])
    assert set(r.raw) == {"RequestId", "Project"}
    p = r.raw["Project"]
    check_string_fields(p)
    # Get answers Status as the name, and no StatusName.
    assert p["Status"] == "Editing"
    assert "StatusName" not in p
    assert is_number(p["Duration"]) and p["Duration"] == pytest.approx(3.5)
    for key in ("ProjectId", "Title", "Description", "CoverURL", "Timeline", "CreateTime", "ModifiedTime",
                "CreateSource", "ModifiedSource", "ProjectType"):
        assert p[key] == created[key], key
    check_time(p["CreateTime"])
    # Without RequestSource=WebSDK there is no conversion status (decisions.md).
    assert "TimelineConvertStatus" not in p
    assert r.resp.body.project.status == "Editing"


def test_get_with_websdk_request_source_reports_converted(api):
    pid = api.create(title="websdk", timeline=timeline({"MediaId": "c" * 32, "Out": 2})).raw["Project"]["ProjectId"]
    p = api.get(pid, request_source="WebSDK").raw["Project"]
    assert p["TimelineConvertStatus"] == "Converted"


def test_request_id_differs_per_request(api):
    a = api.create(title="r1").raw["RequestId"]
    b = api.create(title="r2").raw["RequestId"]
    assert a != b


def test_create_ids_are_unique(api):
    ids = {api.create(title=f"u{i}").raw["Project"]["ProjectId"] for i in range(5)}
    assert len(ids) == 5


def test_special_characters_round_trip(api):
    # Exercises both signature canonicalisations: spaces, * ~ ' ( ) ! + / = & and UTF-8.
    title = "Proj 中文 * ~ ' ( ) ! + / = & end"
    desc = "desc with spaces & ümlaut  %41 %"
    tl = json.dumps({"VideoTracks": [{"VideoTrackClips": [{"MediaId": "d" * 32, "Out": 1,
                                                            "Title": "中文 标题 * ~ ' ( ) ! + / = & ? # % @ $ , ; :"}]}],
                     "Note": "a b  c\ttab"})
    pid = api.create(title=title, description=desc, timeline=tl).raw["Project"]["ProjectId"]
    p = api.get(pid).raw["Project"]
    assert (p["Title"], p["Description"], p["Timeline"]) == (title, desc, tl)


def test_timeline_stored_verbatim_with_unknown_keys(api):
    # Unknown keys (WebSDK bookkeeping) are preserved, never rejected (timeline.md §3);
    # key order and spacing survive.
    tl = ('{"Version":1,"SdkVersion":"5.0","FECanvas":{"Width":1280,"Height":720},'
          '"VideoTracks":[{"Id":3,"VideoTrackClips":[{"Id":7,"TrackId":3,"_durationMode":"x",'
          '"MediaId":"' + "e" * 32 + '","Out":2,"Effects":[{"Type":"Volume","Gain":0}]}]}],  "Zeta":null}')
    pid = api.create(title="verbatim", timeline=tl).raw["Project"]["ProjectId"]
    assert api.get(pid).raw["Project"]["Timeline"] == tl


@pytest.mark.parametrize(
    "tl",
    [
        pytest.param(None, id="absent"),
        pytest.param("{}", id="empty-object"),
        pytest.param('{"VideoTracks":[]}', id="no-tracks"),
        pytest.param('{"VideoTracks":[{"VideoTrackClips":[]}],"AudioTracks":[{"AudioTrackClips":[]}]}',
                     id="tracks-without-clips"),
    ],
)
def test_empty_timeline_is_draft_with_zero_duration(api, tl):
    p = api.create(title="draft", timeline=tl).raw["Project"]
    assert (p["Status"], p["StatusName"], p["Duration"]) == (1, "Draft", 0)
    g = api.get(p["ProjectId"]).raw["Project"]
    assert (g["Status"], g["Duration"]) == ("Draft", 0)


# Worked examples of timeline.md §2.4, with Out given wherever the example relies on a known
# media duration (decisions.md: no media durations are known, unknown lengths count as 0).
DURATIONS = {
    "E1-sequential-in-out": (
        {"VideoTracks": [{"VideoTrackClips": [
            {"MediaId": "v10", "Out": 10},
            {"MediaId": "v8", "In": 2, "Out": 5},
            {"MediaId": "v6", "In": 1, "Out": 6}]}]},
        18,
    ),
    "E2-explicit-timeline-in-out": (
        {"VideoTracks": [{"VideoTrackClips": [
            {"MediaId": "v10", "In": 0, "Out": 4, "TimelineIn": 2, "TimelineOut": 6},
            {"MediaId": "v8", "Out": 3}]}]},
        9,
    ),
    "E3-speed": (
        {"VideoTracks": [{"VideoTrackClips": [
            {"MediaId": "v10", "Out": 10, "Speed": 2},
            {"MediaId": "v8", "In": 0, "Out": 4, "Speed": 0.5}]}]},
        13,
    ),
    "E4-images-with-duration": (
        {"VideoTracks": [{"VideoTrackClips": [
            {"Type": "Image", "MediaURL": "https://b.oss-cn-shanghai.aliyuncs.com/a.png", "Duration": 3},
            {"MediaId": "v6", "Out": 4},
            {"Type": "Image", "MediaId": "img2", "Duration": 2.5}]}]},
        9.5,
    ),
    "E5-pip-and-bgm-no-main-track": (
        {"VideoTracks": [
            {"VideoTrackClips": [{"MediaId": "v10", "Out": 10}]},
            {"VideoTrackClips": [{"MediaId": "v6", "Out": 6, "TimelineIn": 3, "X": 0.6, "Y": 0.05,
                                  "Width": 0.35, "Height": 0.35}]}],
         "AudioTracks": [{"AudioTrackClips": [{"MediaId": "a30", "Out": 30}]}]},
        10,
    ),
    "E6-audio-main-track": (
        {"VideoTracks": [{"VideoTrackClips": [
            {"MediaURL": "https://b.oss-cn-shanghai.aliyuncs.com/v1.mp4", "Out": 5},
            {"MediaURL": "https://b.oss-cn-shanghai.aliyuncs.com/v2.mp4", "Out": 5},
            {"MediaURL": "https://b.oss-cn-shanghai.aliyuncs.com/v3.mp4", "Out": 5},
            {"MediaURL": "https://b.oss-cn-shanghai.aliyuncs.com/v4.mp4", "Out": 5}]}],
         "AudioTracks": [{"MainTrack": True, "AudioTrackClips": [
             {"MediaURL": "https://b.oss-cn-shanghai.aliyuncs.com/a15.mp3", "Out": 15}]}]},
        15,
    ),
    "E7-subtitles-never-extend": (
        {"VideoTracks": [{"VideoTrackClips": [{"MediaId": "v8", "Out": 8}]}],
         "SubtitleTracks": [{"SubtitleTrackClips": [
             {"Type": "Text", "Content": "Title", "FontSize": 60, "Y": 0.1},
             {"Type": "Text", "Content": "Ending", "TimelineIn": 6, "TimelineOut": 12}]}]},
        8,
    ),
    "E8-global-image-background": (
        {"VideoTracks": [
            {"VideoTrackClips": [{"Type": "GlobalImage", "MediaURL": "https://b.oss-cn-shanghai.aliyuncs.com/bg.jpg"}]},
            {"VideoTrackClips": [{"MediaId": "v6", "Out": 6}, {"MediaId": "v10", "Out": 10}]}]},
        16,
    ),
    "audio-only": (
        {"AudioTracks": [{"AudioTrackClips": [{"MediaId": "a1", "Out": 7}, {"MediaId": "a2", "In": 1, "Out": 3}]}]},
        9,
    ),
    "max-duration-caps": (
        {"MaxDuration": 5, "VideoTracks": [{"VideoTrackClips": [{"MediaId": "v10", "Out": 10}]}]},
        5,
    ),
    "decimal-in-out": (
        {"VideoTracks": [{"VideoTrackClips": [{"MediaId": "v", "In": 0.25, "Out": 4.75}]}]},
        4.5,
    ),
    "numeric-strings": (
        {"VideoTracks": [{"VideoTrackClips": [{"MediaId": "v", "In": "1", "Out": "4"},
                                              {"MediaId": "w", "Out": "2.5", "Speed": "0.5"}]}]},
        8,
    ),
    "media-url-alias-and-gap": (
        {"VideoTracks": [{"VideoTrackClips": [{"MediaUrl": "https://b.oss-cn-shanghai.aliyuncs.com/v.mp4",
                                               "Out": 2, "TimelineIn": 3}]}]},
        5,
    ),
    "unknown-length-counts-zero": (
        {"VideoTracks": [{"VideoTrackClips": [{"MediaId": "unprobed"}, {"MediaId": "v", "Out": 2}]}]},
        2,
    ),
}


@pytest.mark.parametrize("doc,expected", list(DURATIONS.values()), ids=list(DURATIONS))
def test_duration_from_timeline(api, doc, expected):
    tl = json.dumps(doc)
    p = api.create(title="duration", timeline=tl).raw["Project"]
    assert is_number(p["Duration"])
    assert p["Duration"] == pytest.approx(expected, abs=1e-3)
    assert (p["Status"], p["StatusName"]) == (2, "Editing")
    g = api.get(p["ProjectId"]).raw["Project"]
    assert is_number(g["Duration"]) and g["Duration"] == pytest.approx(expected, abs=1e-3)
    assert g["Status"] == "Editing"


def test_clip_of_unknown_length_still_makes_editing(api):
    p = api.create(title="unknown", timeline=timeline({"MediaId": "f" * 32})).raw["Project"]
    assert (p["Status"], p["StatusName"], p["Duration"]) == (2, "Editing", 0)


@pytest.mark.parametrize(
    "clip",
    [
        pytest.param({"Out": 2}, id="no-media"),
        pytest.param({"Type": "AI_Avatar", "AvatarId": "a", "Content": "hi", "Duration": 2}, id="unknown-type"),
        pytest.param({"MediaId": "x", "Out": 2, "Effects": [{"Type": "Nope", "SubType": "?"}]}, id="unknown-effect"),
    ],
)
def test_timelines_stored_although_not_producible(api, clip):
    # Stored verbatim in projects; only producing refuses them (timeline.md §3).
    tl = timeline(clip)
    p = api.create(title="tolerated", timeline=tl).raw["Project"]
    assert api.get(p["ProjectId"]).raw["Project"]["Timeline"] == tl


def test_status_name_matches_status_code(api):
    for tl in (None, timeline({"MediaId": "x", "Out": 1})):
        p = api.create(title="codes", timeline=tl).raw["Project"]
        assert STATUS_CODES[p["StatusName"]] == p["Status"]


# ---- live projects


def test_live_project_is_reserving(api):
    r = api.create(title="live", project_type="LiveEditingProject", business_config=LIVE_CONFIG)
    p = r.raw["Project"]
    assert p["ProjectType"] == "LiveEditingProject"
    assert p["BusinessStatus"] == "Reserving"
    assert p["BusinessConfig"] == LIVE_CONFIG
    assert (p["Status"], p["StatusName"]) == (1, "Draft")
    g = api.get(p["ProjectId"]).raw["Project"]
    assert (g["ProjectType"], g["BusinessStatus"], g["BusinessConfig"]) == (
        "LiveEditingProject", "Reserving", LIVE_CONFIG)


def test_live_project_without_storage_location_is_invalid(api):
    expect_error(lambda: api.create(title="live", project_type="LiveEditingProject"),
                 "InvalidParameter", 400, "BusinessConfig")
    bad = json.dumps({"OutputMediaConfig": {"StorageLocation": "not a bucket"}})
    expect_error(lambda: api.create(title="live", project_type="LiveEditingProject", business_config=bad),
                 "InvalidParameter", 400, "BusinessConfig")


def test_unknown_project_type_is_invalid(api):
    expect_error(lambda: api.create(title="t", project_type="Bogus"), "InvalidParameter", 400, "ProjectType")


# ---- errors


def test_create_without_title_is_missing_parameter(api):
    e = expect_error(lambda: api.create(description="no title"), "MissingParameter", 400, "Title")
    assert e.data["Message"] == (
        'The input parameter "Title" that is mandatory for processing this request is not supplied.'
    )


def test_get_without_project_id_is_missing_parameter(api):
    expect_error(lambda: api.get(None), "MissingParameter", 400, "ProjectId")


def test_get_with_unknown_request_source_is_invalid(api):
    pid = api.create(title="rs").raw["Project"]["ProjectId"]
    expect_error(lambda: api.get(pid, request_source="Bogus"), "InvalidParameter", 400, "RequestSource")


def test_get_unknown_project_is_not_found(api):
    e = expect_error(lambda: api.get("0" * 32), "ProjectNotFound", 404)
    assert e.data["HostId"] == api.endpoint


def test_template_and_timeline_together_are_invalid(api):
    expect_error(
        lambda: api.create(title="t", template_id="1" * 32, clips_param="{}", timeline=timeline({"MediaId": "x"})),
        "InvalidParameter", 400, "TemplateId")


@pytest.mark.parametrize("tl", list(BAD_TIMELINES.values()), ids=list(BAD_TIMELINES))
def test_create_with_bad_timeline_is_invalid(api, tl):
    expect_error(lambda: api.create(title="bad", timeline=tl), "InvalidParameter", 400, "Timeline")
