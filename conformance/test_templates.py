"""Templates through the official SDK: AddTemplate, GetTemplate, UpdateTemplate, DeleteTemplate
(GET), ListTemplates, GetTemplateParams (GET), and editing projects made from templates
(api-templates-jobs.md §1 and §4.1, timeline.md §4, shared decisions.md "Templates and live
projects": not found → InvalidParameter naming TemplateId; a placeholder with no value and no
default → InvalidParameter naming ClipsParam and the placeholder; IceSys_… not found; VETemplate
Available at once; TemplateType given must match).
"""

from __future__ import annotations

import json
import time

import pytest

from icehelpers import Api, check_time, expect_error, is_number, parse_time, timeline
from templates_support import (
    SYSTEM_TEMPLATE,
    TEMPLATE_ID_RE,
    TEMPLATE_STATUSES,
    WATERMARK,
    add_template,
    delete_templates,
    expect_error_in,
    get_template,
    list_templates,
    new_template,
    project_ids,
    template_params,
    update_template,
)

COVER = "https://example-bucket.oss-cn-shanghai.aliyuncs.com/cover.png"
ADD_FIELDS = {"TemplateId", "Name", "Type", "Config", "CoverUrl", "PreviewMedia", "Status", "CreateSource",
              "ModifiedSource"}
GET_FIELDS = {"TemplateId", "Name", "Type", "Config", "CoverURL", "PreviewMedia", "PreviewMediaStatus", "Status",
              "CreateSource", "ModifiedSource", "CreationTime", "ModifiedTime", "ClipsParam", "RelatedMediaids"}

# A template with video, image and text placeholders, value placeholders with defaults, a
# NULL default and an array generator (timeline.md §4.2).
RICH = {
    "VideoTracks": [{"VideoTrackClips": [
        {"MediaId": "$Video", "Out": "$Out:4", "TimelineIn": "$Start:0"},
        {"Type": "Image", "MediaId": "$Picture", "Duration": 2},
        {"Sys_Type": "ArrayItems", "Sys_ArrayObject": "$VideoArray", "Sys_Template": {"MediaId": "$MediaId", "Out": 2}},
    ]}],
    "ImageTracks": [{"ImageTrackClips": [{"ImageId": "$Logo", "X": 10, "Y": 10, "Speed": "$Speed:NULL"}]}],
    "SubtitleTracks": [{"SubtitleTrackClips": [{"Type": "Text", "Content": "$Title:Hello world"}]}],
}


def tl(raw: str) -> dict:
    return json.loads(raw)


def check_full(t: dict) -> None:
    """The GetTemplate/ListTemplates item shape (api-templates-jobs.md §1.3, §1.6)."""
    assert set(t) <= GET_FIELDS, set(t) - GET_FIELDS
    for k, v in t.items():
        assert isinstance(v, str), (k, v)
    assert "CoverUrl" not in t
    assert TEMPLATE_ID_RE.match(t["TemplateId"]), t
    assert t["Type"] in ("Timeline", "VETemplate")
    assert t["Status"] in TEMPLATE_STATUSES
    check_time(t["CreationTime"])
    check_time(t["ModifiedTime"])
    assert parse_time(t["ModifiedTime"]) >= parse_time(t["CreationTime"])


# ---- AddTemplate / GetTemplate


def test_add_template_answers_vendor_shape(api):
    config = json.dumps(WATERMARK)
    r = add_template(api, name="watermark 水印 & co", type="Timeline", config=config, cover_url=COVER,
                     preview_media="f" * 32)
    assert set(r.raw) == {"RequestId", "Template"}
    t = r.raw["Template"]
    assert set(t) <= ADD_FIELDS, set(t) - ADD_FIELDS
    # AddTemplate spells it CoverUrl (the SDK model has no CoverURL here).
    assert t["CoverUrl"] == COVER and "CoverURL" not in t
    assert TEMPLATE_ID_RE.match(t["TemplateId"])
    assert t["Name"] == "watermark 水印 & co"
    assert (t["Type"], t["Status"]) == ("Timeline", "Available")
    assert t["Config"] == config
    assert t["PreviewMedia"] == "f" * 32
    assert (t["CreateSource"], t["ModifiedSource"]) == ("OpenAPI", "OpenAPI")
    assert r.resp.body.template.cover_url == COVER


def test_get_template_answers_vendor_shape(api):
    config = json.dumps(WATERMARK)
    added = add_template(api, name="to get", type="Timeline", config=config, cover_url=COVER,
                         source="AliyunConsole").raw["Template"]
    r = get_template(api, added["TemplateId"])
    assert set(r.raw) == {"RequestId", "Template"}
    t = r.raw["Template"]
    check_full(t)
    assert t["CoverURL"] == COVER
    for key in ("TemplateId", "Name", "Type", "Config", "Status", "CreateSource", "ModifiedSource"):
        assert t[key] == added[key], key
    assert (t["CreateSource"], t["ModifiedSource"]) == ("AliyunConsole", "AliyunConsole")
    assert t["CreationTime"] == t["ModifiedTime"]
    # RelatedMediaids only on request (RelatedMediaidFlag=1).
    assert "RelatedMediaids" not in t
    assert r.resp.body.template.cover_url == COVER


def test_get_template_clips_param_skeleton(api):
    tid = new_template(api, RICH)
    t = get_template(api, tid).raw["Template"]
    skeleton = json.loads(t["ClipsParam"])
    assert isinstance(skeleton, dict)
    # One key per top-level placeholder; the array placeholder is a list, the others strings.
    assert set(skeleton) == {"Video", "Out", "Start", "Picture", "VideoArray", "Logo", "Speed", "Title"}, skeleton
    assert skeleton["VideoArray"] == []
    for k, v in skeleton.items():
        if k != "VideoArray":
            assert isinstance(v, str), (k, v)
    # Filled in with real values, the skeleton makes a project.
    skeleton.update(Video="a" * 32, Picture="b" * 32, Logo="c" * 32, VideoArray=["d" * 32])
    p = api.create(title="from skeleton", template_id=tid, clips_param=json.dumps(skeleton)).raw["Project"]
    assert p["TemplateId"] == tid and p["TemplateType"] == "Timeline"


def test_related_mediaids_only_with_flag(api):
    related = json.dumps({"video": ["a" * 32], "image": ["b" * 32]})
    tid = new_template(api, WATERMARK, related_mediaids=related)
    assert "RelatedMediaids" not in get_template(api, tid).raw["Template"]
    assert "RelatedMediaids" not in get_template(api, tid, related_mediaid_flag="0").raw["Template"]
    t = get_template(api, tid, related_mediaid_flag="1").raw["Template"]
    assert json.loads(t["RelatedMediaids"]) == json.loads(related)


def test_preview_media_status_follows_the_media(server, tmp_path):
    # A zero-byte mp4 fails its probe: PreviewMediaStatus then reads PrepareFail.
    creds = server.create_account()
    api = Api(server.endpoint, creds, "v3")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    url = f"oss://preview-{creds.account_id}/in/empty.mp4"
    server.put_media(empty, url, account=creds.account_id)
    media_id = api.register_media(input_url=url).raw["MediaId"]
    end = time.monotonic() + 20
    while api.get_media(media_id=media_id).raw["MediaInfo"]["MediaBasicInfo"]["Status"] != "PrepareFail":
        assert time.monotonic() < end, "the empty file was not refused by the probe within 20 s"
        time.sleep(0.05)
    tid = new_template(api, WATERMARK, preview_media=media_id)
    t = get_template(api, tid).raw["Template"]
    assert (t["PreviewMedia"], t["PreviewMediaStatus"]) == (media_id, "PrepareFail")
    [item] = [x for x in list_templates(api).raw["Templates"] if x["TemplateId"] == tid]
    assert item["PreviewMediaStatus"] == "PrepareFail"


def test_add_template_with_source_and_status(fresh):
    r = add_template(fresh, name="w", type="Timeline", config=json.dumps(WATERMARK), source="WebSDK",
                     status="Created").raw["Template"]
    assert (r["Status"], r["CreateSource"], r["ModifiedSource"]) == ("Created", "WebSDK", "WebSDK")
    t = get_template(fresh, r["TemplateId"]).raw["Template"]
    assert (t["Status"], t["CreateSource"]) == ("Created", "WebSDK")


def test_ve_template_is_available_at_once(api):
    config = json.dumps({"oss_url": "http://example-bucket.oss-cn-shanghai.aliyuncs.com/ae/template.zip"})
    t = add_template(api, name="advanced", type="VETemplate", config=config).raw["Template"]
    assert (t["Type"], t["Status"]) == ("VETemplate", "Available")
    g = get_template(api, t["TemplateId"]).raw["Template"]
    check_full(g)
    assert (g["Type"], g["Status"], g["Config"]) == ("VETemplate", "Available", config)
    r = template_params(api, t["TemplateId"])
    assert r.raw["TemplateId"] == t["TemplateId"] and isinstance(r.raw["ParamList"], list)


# ---- AddTemplate / GetTemplate errors


def test_add_template_parameter_errors(api):
    config = json.dumps(WATERMARK)
    expect_error(lambda: add_template(api, type="Timeline", config=config), "MissingParameter", 400, "Name")
    expect_error(lambda: add_template(api, name="n", config=config), "MissingParameter", 400, "Type")
    expect_error(lambda: add_template(api, name="n", type="Movie", config=config), "InvalidParameter", 400, "Type")
    expect_error(lambda: add_template(api, name="n", type="Timeline", config=config, status="Ready"),
                 "InvalidParameter", 400, "Status")
    expect_error(lambda: add_template(api, name="n", type="Timeline", config=config, source="Elsewhere"),
                 "InvalidParameter", 400, "Source")
    # A regular template is a Config with placeholders: it needs one, and one that parses.
    expect_error_in(lambda: add_template(api, name="n", type="Timeline"),
                    ("MissingParameter", "InvalidParameter"), 400, "Config")
    for bad in ("{not json", "[]", '"text"', json.dumps({"VideoTracks": [{"VideoTrackClips": [{"MediaId": "$"}]}]}),
                json.dumps({"VideoTracks": [{"VideoTrackClips": [
                    {"Sys_Type": "ArrayItems", "Sys_ArrayObject": "NoDollar", "Sys_Template": {"MediaId": "$M"}}]}]})):
        expect_error(lambda: add_template(api, name="n", type="Timeline", config=bad), "InvalidParameter", 400,
                     "Config")


def test_unknown_and_system_templates_are_not_found(api):
    for tid in ("0" * 32, SYSTEM_TEMPLATE, "IceSys_SingleVideo_Subtitle"):
        expect_error(lambda: get_template(api, tid), "InvalidParameter", 400, "TemplateId")
        expect_error(lambda: template_params(api, tid), "InvalidParameter", 400, "TemplateId")
        expect_error(lambda: update_template(api, template_id=tid, name="x"), "InvalidParameter", 400, "TemplateId")
    expect_error(lambda: get_template(api, None), "MissingParameter", 400, "TemplateId")
    expect_error(lambda: template_params(api, None), "MissingParameter", 400, "TemplateId")
    expect_error(lambda: update_template(api, name="x"), "MissingParameter", 400, "TemplateId")
    expect_error(lambda: delete_templates(api, None), "MissingParameter", 400, "TemplateIds")


# ---- UpdateTemplate


def test_update_template_changes_only_given_fields(fresh):
    tid = new_template(fresh, WATERMARK, name="before", cover_url=COVER, source="AliyunConsole")
    before = get_template(fresh, tid).raw["Template"]
    r = update_template(fresh, template_id=tid, name="after")
    assert set(r.raw) == {"RequestId"}
    t = get_template(fresh, tid).raw["Template"]
    check_full(t)
    assert t["Name"] == "after"
    for key in ("Config", "CoverURL", "Type", "Status", "CreateSource", "CreationTime"):
        assert t[key] == before[key], key
    # Source defaults to OpenAPI and becomes ModifiedSource.
    assert (t["CreateSource"], t["ModifiedSource"]) == ("AliyunConsole", "OpenAPI")
    assert parse_time(t["ModifiedTime"]) >= parse_time(before["ModifiedTime"])

    new_config = {"VideoTracks": [{"VideoTrackClips": [{"MediaId": "$Clip", "Out": 5}]}]}
    update_template(fresh, template_id=tid, config=json.dumps(new_config), cover_url="http://x.example/c2.png",
                    status="Processing", source="WebSDK")
    t = get_template(fresh, tid).raw["Template"]
    assert json.loads(t["Config"]) == new_config
    assert (t["CoverURL"], t["Status"], t["ModifiedSource"], t["Name"]) == (
        "http://x.example/c2.png", "Processing", "WebSDK", "after")
    # The skeleton and the parameters follow the new Config.
    assert json.loads(t["ClipsParam"]) == {"Clip": ""}
    assert [p["Key"] for p in template_params(fresh, tid).raw["ParamList"]] == ["Clip"]


def test_update_template_errors(api):
    tid = new_template(api, WATERMARK)
    expect_error(lambda: update_template(api, template_id=tid, config="{broken"), "InvalidParameter", 400, "Config")
    expect_error(lambda: update_template(api, template_id=tid, status="Done"), "InvalidParameter", 400, "Status")
    expect_error(lambda: update_template(api, template_id=tid, source="Nowhere"), "InvalidParameter", 400, "Source")
    # Nothing changed.
    t = get_template(api, tid).raw["Template"]
    assert json.loads(t["Config"]) == WATERMARK and t["Status"] == "Available"


# ---- DeleteTemplate (GET)


def test_delete_templates(fresh):
    a, b, c = (new_template(fresh, WATERMARK, name=n) for n in "abc")
    r = delete_templates(fresh, f"{a},{b},{'0' * 32}")
    assert set(r.raw) == {"RequestId"}
    for tid in (a, b):
        expect_error(lambda: get_template(fresh, tid), "InvalidParameter", 400, "TemplateId")
        expect_error(lambda: fresh.create(title="p", template_id=tid, clips_param='{"Video":"v"}'),
                     "InvalidParameter", 400, "TemplateId")
    assert get_template(fresh, c).raw["Template"]["TemplateId"] == c
    listed = list_templates(fresh).raw
    assert [t["TemplateId"] for t in listed["Templates"]] == [c] and listed["TotalCount"] == 1
    # Deleting again, or unknown IDs only, is no error.
    delete_templates(fresh, a)
    delete_templates(fresh, "0" * 32)


# ---- ListTemplates


def test_list_templates_filters_order_and_pages(fresh):
    t1 = new_template(fresh, WATERMARK, name="alpha one")
    t2 = new_template(fresh, WATERMARK, name="beta two", status="Created", source="WebSDK")
    t3 = new_template(fresh, {"oss_url": "x"}, type="VETemplate", name="gamma three")

    def ids(**kw) -> list[str]:
        raw = list_templates(fresh, **kw).raw
        assert set(raw) == {"RequestId", "Templates", "TotalCount"}, raw
        assert type(raw["TotalCount"]) is int
        for t in raw["Templates"]:
            check_full(t)
        return [t["TemplateId"] for t in raw["Templates"]]

    raw = list_templates(fresh).raw
    assert raw["TotalCount"] == 3
    # Default order: CreationTime:Desc.
    assert [t["TemplateId"] for t in raw["Templates"]] == [t3, t2, t1]
    assert ids(sort_type="CreationTime:Desc") == [t3, t2, t1]
    assert ids(sort_type="CreationTime:Asc") == [t1, t2, t3]
    assert ids(type="Timeline") == [t2, t1]
    assert ids(type="VETemplate") == [t3]
    assert ids(status="Created") == [t2]
    assert ids(status="Available") == [t3, t1]
    assert ids(create_source="WebSDK") == [t2]
    assert ids(create_source="OpenAPI") == [t3, t1]
    assert ids(keyword="two") == [t2]
    assert ids(keyword=t1) == [t1]
    assert ids(keyword="nothing-like-this") == []
    # Page numbers: TotalCount is the whole match on every page.
    p1 = list_templates(fresh, page_size=2, page_no=1).raw
    p2 = list_templates(fresh, page_size=2, page_no=2).raw
    assert [t["TemplateId"] for t in p1["Templates"]] == [t3, t2]
    assert [t["TemplateId"] for t in p2["Templates"]] == [t1]
    assert p1["TotalCount"] == p2["TotalCount"] == 3
    assert list_templates(fresh, page_size=2, page_no=3).raw["Templates"] == []
    filtered = list_templates(fresh, type="Timeline", page_size=1).raw
    assert filtered["TotalCount"] == 2 and len(filtered["Templates"]) == 1
    # Items carry the GetTemplate fields: CoverURL casing, times, the ClipsParam skeleton.
    item = next(t for t in raw["Templates"] if t["TemplateId"] == t1)
    got = get_template(fresh, t1).raw["Template"]
    for key in ("Name", "Type", "Config", "Status", "CreateSource", "ModifiedSource", "CreationTime", "ModifiedTime",
                "ClipsParam"):
        assert item[key] == got[key], key
    sdk = list_templates(fresh).resp.body
    assert sdk.total_count == 3 and sdk.templates[0].template_id == t3


def test_list_templates_parameter_errors(api):
    for size in (0, 101):
        expect_error(lambda: list_templates(api, page_size=size), "InvalidParameter", 400, "PageSize")
    expect_error(lambda: list_templates(api, page_no=0), "InvalidParameter", 400, "PageNo")
    expect_error(lambda: list_templates(api, sort_type="Name:Asc"), "InvalidParameter", 400, "SortType")
    expect_error(lambda: list_templates(api, type="Movie"), "InvalidParameter", 400, "Type")
    expect_error(lambda: list_templates(api, status="Ready"), "InvalidParameter", 400, "Status")


# ---- GetTemplateParams (GET)


def test_template_params_kinds_and_defaults(api):
    tid = new_template(api, RICH)
    r = template_params(api, tid)
    assert set(r.raw) == {"RequestId", "TemplateId", "ParamList"}
    assert r.raw["TemplateId"] == tid
    params = r.raw["ParamList"]
    for p in params:
        assert p["Type"] in ("Video", "Image", "Text"), p
        assert isinstance(p["Key"], str) and not p["Key"].startswith("$"), p
    by_key = {p["Key"]: p for p in params}
    assert len(by_key) == len(params), "a parameter listed twice"
    assert by_key["Video"] == {"Key": "Video", "Type": "Video"}
    # A media placeholder on a video-track clip of Type Image, and on an image track: Image.
    assert by_key["Picture"] == {"Key": "Picture", "Type": "Image"}
    assert by_key["Logo"] == {"Key": "Logo", "Type": "Image"}
    # A text placeholder with its default as Content.
    assert by_key["Title"] == {"Key": "Title", "Type": "Text", "Content": "Hello world"}
    # Placeholders inside Sys_Template are per array item, not parameters of their own.
    assert "MediaId" not in by_key
    # In document order.
    media = [p["Key"] for p in params if p["Key"] in ("Video", "Picture", "Logo", "Title")]
    assert media == ["Video", "Picture", "Logo", "Title"]
    sdk = r.resp.body
    assert sdk.template_id == tid and {p.key for p in sdk.param_list} == set(by_key)


def test_template_params_give_a_media_url_default(api):
    # MediaUrl is "the URL of the default material" (timeline.md §4.3, api-templates-jobs.md §1.7):
    # a media placeholder whose default is a URL lists it, as a Text placeholder lists its
    # default as Content.
    url = "https://example-bucket.oss-cn-shanghai.aliyuncs.com/defaults/clip.mp4"
    tid = new_template(api, {"VideoTracks": [{"VideoTrackClips": [{"MediaURL": f"$Clip:{url}"}]}]})
    [param] = template_params(api, tid).raw["ParamList"]
    assert (param["Key"], param["Type"]) == ("Clip", "Video")
    assert param.get("MediaUrl") == url, param
    # Without a value the default is used.
    p = api.create(title="default clip", template_id=tid, clips_param="{}").raw["Project"]
    assert json.loads(p["Timeline"])["VideoTracks"][0]["VideoTrackClips"][0]["MediaURL"] == url


# ---- tenant isolation


def test_templates_are_per_account(server, make_api):
    owner = make_api(server.create_account())
    other = make_api(server.create_account())
    tid = new_template(owner, WATERMARK, name="private")
    expect_error(lambda: get_template(other, tid), "InvalidParameter", 400, "TemplateId")
    expect_error(lambda: template_params(other, tid), "InvalidParameter", 400, "TemplateId")
    expect_error(lambda: update_template(other, template_id=tid, name="stolen"), "InvalidParameter", 400,
                 "TemplateId")
    expect_error(lambda: other.create(title="p", template_id=tid, clips_param='{"Video":"v"}'),
                 "InvalidParameter", 400, "TemplateId")
    pid = other.create(title="mine").raw["Project"]["ProjectId"]
    expect_error(lambda: other.update(project_id=pid, template_id=tid, clips_param='{"Video":"v"}'),
                 "InvalidParameter", 400, "TemplateId")
    delete_templates(other, tid)  # not theirs: ignored
    theirs = list_templates(other).raw
    assert (theirs["Templates"], theirs["TotalCount"]) == ([], 0)
    assert list_templates(other, keyword=tid).raw["Templates"] == []
    t = get_template(owner, tid).raw["Template"]
    assert t["Name"] == "private"
    assert [x["TemplateId"] for x in list_templates(owner).raw["Templates"]] == [tid]


# ---- projects from Timeline templates


def test_project_from_the_vendor_watermark_example(api):
    tid = new_template(api, WATERMARK)
    clips = json.dumps({"Video": "****20b4****", "TimelineIn": "5"})
    r = api.create(title="watermarked", template_id=tid, clips_param=clips)
    p = r.raw["Project"]
    assert tl(p["Timeline"]) == {
        "VideoTracks": [{"VideoTrackClips": [{"MediaId": "****20b4****", "TimelineIn": 5}]}],
        "ImageTracks": WATERMARK["ImageTracks"],
    }
    # "5" under a time field became the number 5; the NULL default removed TimelineOut.
    assert type(tl(p["Timeline"])["VideoTracks"][0]["VideoTrackClips"][0]["TimelineIn"]) is int
    assert (p["TemplateId"], p["ClipsParam"], p["TemplateType"]) == (tid, clips, "Timeline")
    assert (p["Status"], p["StatusName"]) == (2, "Editing")
    g = api.get(p["ProjectId"]).raw["Project"]
    for key in ("Timeline", "TemplateId", "ClipsParam", "TemplateType", "Duration"):
        assert g[key] == p[key], key


def test_project_from_template_stores_duration(api):
    tid = new_template(api, RICH)
    clips = {"Video": "a" * 32, "Picture": "b" * 32, "Logo": "c" * 32, "VideoArray": ["d" * 32, {"MediaId": "e" * 32}],
             "Out": "3.5", "Title": "Custom title"}
    p = api.create(title="rich", template_id=tid, clips_param=json.dumps(clips)).raw["Project"]
    t = tl(p["Timeline"])
    clips_out = t["VideoTracks"][0]["VideoTrackClips"]
    assert clips_out == [
        {"MediaId": "a" * 32, "Out": 3.5, "TimelineIn": 0},
        {"Type": "Image", "MediaId": "b" * 32, "Duration": 2},
        {"MediaId": "d" * 32, "Out": 2},
        {"MediaId": "e" * 32, "Out": 2},
    ]
    # Speed had a NULL default and no value: removed.
    assert t["ImageTracks"] == [{"ImageTrackClips": [{"ImageId": "c" * 32, "X": 10, "Y": 10}]}]
    assert t["SubtitleTracks"][0]["SubtitleTrackClips"][0]["Content"] == "Custom title"
    # 3.5 + 2 (image) + 2 + 2 seconds, one after another.
    assert is_number(p["Duration"]) and p["Duration"] == pytest.approx(9.5)
    assert api.get(p["ProjectId"]).raw["Project"]["Duration"] == pytest.approx(9.5)


def test_array_generator_keeps_fixed_clips_around_it(api):
    config = {"VideoTracks": [{"VideoTrackClips": [
        {"MediaId": "opening", "Out": 1},
        {"Sys_Type": "ArrayItems", "Sys_ArrayObject": "$VideoArray", "Sys_Template": {"MediaId": "$MediaId", "Out": 2}},
        {"MediaId": "ending", "Out": 1},
    ]}], "AudioTracks": [{"AudioTrackClips": {"Sys_Type": "Array", "Sys_ArrayObject": "$AudioArray",
                                              "Sys_Template": {"MediaId": "$MediaId", "Out": 1}}}]}
    tid = new_template(api, config)
    clips = {"VideoArray": ["v1", {"MediaId": "v2"}, "v3"], "AudioArray": [{"MediaId": "a1"}]}
    p = api.create(title="arrays", template_id=tid, clips_param=json.dumps(clips)).raw["Project"]
    t = tl(p["Timeline"])
    assert [c["MediaId"] for c in t["VideoTracks"][0]["VideoTrackClips"]] == ["opening", "v1", "v2", "v3", "ending"]
    assert t["AudioTracks"][0]["AudioTrackClips"] == [{"MediaId": "a1", "Out": 1}]
    assert p["Duration"] == pytest.approx(1 + 3 * 2 + 1)


def test_template_type_given_must_match(api):
    tid = new_template(api, WATERMARK)
    clips = '{"Video":"v"}'
    p = api.create(title="typed", template_id=tid, clips_param=clips, template_type="Timeline").raw["Project"]
    assert p["TemplateType"] == "Timeline"
    e = expect_error(lambda: api.create(title="t", template_id=tid, clips_param=clips, template_type="VETemplate"),
                     "InvalidParameter", 400)
    assert "TemplateType" in e.data["Message"] or "TemplateId" in e.data["Message"], e.data
    expect_error(lambda: api.create(title="t", template_id=tid, clips_param=clips, template_type="Bogus"),
                 "InvalidParameter", 400, "TemplateType")


def test_update_project_with_template(api):
    tid = new_template(api, {"VideoTracks": [{"VideoTrackClips": [{"MediaId": "$Video", "Out": "$Out:4"}]}]})
    pid = api.create(title="plain", timeline=timeline({"MediaId": "x", "Out": 1})).raw["Project"]["ProjectId"]
    clips = json.dumps({"Video": "filled", "Out": 6})
    r = api.update(project_id=pid, template_id=tid, clips_param=clips)
    assert set(r.raw) == {"RequestId"}
    g = api.get(pid).raw["Project"]
    assert tl(g["Timeline"]) == {"VideoTracks": [{"VideoTrackClips": [{"MediaId": "filled", "Out": 6}]}]}
    assert (g["TemplateId"], g["ClipsParam"], g["TemplateType"]) == (tid, clips, "Timeline")
    assert g["Duration"] == pytest.approx(6)
    # A plain Timeline afterwards: the project no longer follows the template.
    api.update(project_id=pid, timeline=timeline({"MediaId": "y", "Out": 2}))
    g = api.get(pid).raw["Project"]
    assert g["Duration"] == pytest.approx(2)
    assert "TemplateId" not in g and "ClipsParam" not in g and "TemplateType" not in g


# ---- errors of projects from templates


CLIPS_ERRORS = {
    # A placeholder with no value and no default: InvalidParameter naming ClipsParam and it.
    "missing-placeholder": ({"TimelineIn": "5"}, "Video"),
    "not-json": ("{oops", None),
    "array": ([{"Video": "v"}], None),
    "string": ("just text", None),
    "array-placeholder-not-a-list": ({"Video": "v", "VideoArray": "v1,v2"}, "VideoArray"),
    "array-item-a-number": ({"Video": "v", "VideoArray": [7]}, "VideoArray"),
    "time-not-a-number": ({"Video": "v", "TimelineIn": "soon"}, None),
    "negative-time": ({"Video": "v", "TimelineIn": -3}, None),
    "out-before-in": ({"Video": "v", "In": 5, "Out": "2"}, None),
}

ARRAY_CONFIG = {"VideoTracks": [{"VideoTrackClips": [
    {"MediaId": "$Video", "TimelineIn": "$TimelineIn:0", "In": "$In:0", "Out": "$Out:NULL"},
    {"Sys_Type": "ArrayItems", "Sys_ArrayObject": "$VideoArray:NULL", "Sys_Template": {"MediaId": "$MediaId"}},
]}]}


@pytest.mark.parametrize("case", list(CLIPS_ERRORS), ids=list(CLIPS_ERRORS))
def test_bad_clips_param_is_invalid(server, make_api, case):
    api = make_api(server.create_account())
    tid = new_template(api, ARRAY_CONFIG)
    clips, named = CLIPS_ERRORS[case]
    raw = clips if isinstance(clips, str) else json.dumps(clips)
    names = ("ClipsParam",) + ((named,) if named else ())
    expect_error(lambda: api.create(title="bad", template_id=tid, clips_param=raw), "InvalidParameter", 400, *names)
    # No project was made; an update with the same ClipsParam changes nothing.
    assert project_ids(api) == []
    pid = api.create(title="keep", timeline=timeline({"MediaId": "k", "Out": 2})).raw["Project"]
    expect_error(lambda: api.update(project_id=pid["ProjectId"], template_id=tid, clips_param=raw),
                 "InvalidParameter", 400, *names)
    g = api.get(pid["ProjectId"]).raw["Project"]
    assert (g["Timeline"], g["Duration"]) == (pid["Timeline"], pid["Duration"])
    assert "TemplateId" not in g


def test_template_id_rules_on_create_and_update(api):
    tid = new_template(api, WATERMARK)
    pid = api.create(title="target").raw["Project"]["ProjectId"]
    tl_json = timeline({"MediaId": "x", "Out": 1})
    for call in (lambda **kw: api.create(title="t", **kw), lambda **kw: api.update(project_id=pid, **kw)):
        # TemplateId without ClipsParam.
        expect_error(lambda: call(template_id=tid), "MissingParameter", 400, "ClipsParam")
        # Timeline and TemplateId together, even with a real template.
        expect_error(lambda: call(template_id=tid, clips_param='{"Video":"v"}', timeline=tl_json),
                     "InvalidParameter", 400, "TemplateId")
        # Unknown and system templates are not found.
        for missing in ("0" * 32, SYSTEM_TEMPLATE):
            expect_error(lambda: call(template_id=missing, clips_param='{"Video":"v"}'), "InvalidParameter", 400,
                         "TemplateId")
    g = api.get(pid).raw["Project"]
    assert "Timeline" not in g and "TemplateId" not in g and g["Status"] == "Draft"


def test_only_available_templates_can_be_used(fresh):
    clips = '{"Video":"v"}'
    for status in TEMPLATE_STATUSES[1:]:
        tid = new_template(fresh, WATERMARK, status=status)
        expect_error(lambda: fresh.create(title="t", template_id=tid, clips_param=clips), "InvalidParameter", 400,
                     "TemplateId")
    # Made Available, it can be used; made unavailable again, it cannot.
    update_template(fresh, template_id=tid, status="Available")
    pid = fresh.create(title="t", template_id=tid, clips_param=clips).raw["Project"]["ProjectId"]
    update_template(fresh, template_id=tid, status="Processing")
    expect_error(lambda: fresh.update(project_id=pid, template_id=tid, clips_param=clips), "InvalidParameter", 400,
                 "TemplateId")
    assert len(project_ids(fresh)) == 1


# ---- VETemplate projects


def test_project_from_ve_template(fresh):
    api = fresh
    tid = new_template(api, {"oss_url": "http://b.example/t.zip"}, type="VETemplate")
    clips = json.dumps({"video1": "a" * 32, "text1": "subtitle"})
    r = api.create(title="advanced", template_id=tid, clips_param=clips, template_type="VETemplate")
    p = r.raw["Project"]
    assert (p["TemplateId"], p["ClipsParam"], p["TemplateType"]) == (tid, clips, "VETemplate")
    assert "Timeline" not in p
    assert (p["Status"], p["StatusName"], p["Duration"]) == (1, "Draft", 0)
    g = api.get(p["ProjectId"]).raw["Project"]
    assert (g["TemplateId"], g["ClipsParam"], g["TemplateType"]) == (tid, clips, "VETemplate")
    assert "Timeline" not in g
    # Searchable by its template type.
    assert p["ProjectId"] in api.project_ids(template_type="VETemplate")
    # The type given must be the template's; ClipsParam must be a JSON object.
    expect_error(lambda: api.create(title="t", template_id=tid, clips_param=clips, template_type="Timeline"),
                 "InvalidParameter", 400)
    expect_error(lambda: api.create(title="t", template_id=tid, clips_param="[1]", template_type="VETemplate"),
                 "InvalidParameter", 400, "ClipsParam")
    expect_error(lambda: api.create(title="t", template_id=tid, template_type="VETemplate"),
                 "MissingParameter", 400, "ClipsParam")


def test_update_project_to_a_ve_template_drops_the_timeline(fresh):
    tid = new_template(fresh, {"oss_url": "http://b.example/t.zip"}, type="VETemplate")
    pid = fresh.create(title="had a timeline", timeline=timeline({"MediaId": "x", "Out": 4})).raw["Project"][
        "ProjectId"]
    clips = json.dumps({"video1": "a" * 32})
    fresh.update(project_id=pid, template_id=tid, clips_param=clips)
    g = fresh.get(pid).raw["Project"]
    assert (g["TemplateId"], g["ClipsParam"], g["TemplateType"]) == (tid, clips, "VETemplate")
    assert "Timeline" not in g
    assert (g["Duration"], g["Status"]) == (0, "Draft")
