"""Media categories through the official SDK: AddCategory, UpdateCategory, DeleteCategory,
GetCategories, and categories on media (api-projects-media.md Part C, decisions.md
"Media library": three levels, ParentId -1 for roots, CateId/Level/ParentId/SubTotal JSON
integers, SubCategories an object wrapping a Category array; DeleteCategory removes the
subcategories and leaves their media uncategorised)."""

from __future__ import annotations

import pytest

from icehelpers import Api, expect_error

ABSENT_ID = 987654321
CATEGORY_KEYS = {"CateId", "CateName", "Level", "ParentId", "Type"}


def check_category(c: dict, *, with_sub_total: bool = False) -> None:
    keys = CATEGORY_KEYS | ({"SubTotal"} if with_sub_total else set())
    assert set(c) == keys, c
    for k in ("CateId", "Level", "ParentId") + (("SubTotal",) if with_sub_total else ()):
        assert type(c[k]) is int, (k, c[k])
    assert isinstance(c["CateName"], str) and isinstance(c["Type"], str)
    assert c["Level"] in (0, 1, 2)
    assert (c["ParentId"] == -1) == (c["Level"] == 0), c


def add(api, name: str, parent: int | None = None, **kw) -> dict:
    r = api.add_category(cate_name=name, parent_id=parent, **kw)
    assert set(r.raw) == {"RequestId", "Category"}
    check_category(r.raw["Category"])
    return r.raw["Category"]


def children(api, cate_id: int | None = None, **kw) -> dict:
    """GetCategories' raw answer, its shape checked."""
    r = api.get_categories(cate_id=cate_id, **kw)
    raw = r.raw
    assert set(raw) <= {"RequestId", "Category", "SubTotal", "SubCategories"}, raw
    assert type(raw["SubTotal"]) is int
    # SubCategories is an object wrapping the array, not the array itself.
    assert isinstance(raw["SubCategories"], dict) and set(raw["SubCategories"]) == {"Category"}, raw
    assert isinstance(raw["SubCategories"]["Category"], list)
    for c in raw["SubCategories"]["Category"]:
        check_category(c, with_sub_total=True)
    if cate_id is not None:
        check_category(raw["Category"])
        assert raw["Category"]["CateId"] == cate_id
    return raw


def sub_ids(raw: dict) -> list[int]:
    return [c["CateId"] for c in raw["SubCategories"]["Category"]]


def test_add_root_answers_vendor_shape(fresh):
    c = add(fresh, "根 root * ~ ' ( ) ! + / = &")
    assert c["CateName"] == "根 root * ~ ' ( ) ! + / = &"
    assert (c["Level"], c["ParentId"], c["Type"]) == (0, -1, "default")
    assert c["CateId"] > 0
    sdk = fresh.add_category(cate_name="sdk").resp.body.category
    assert isinstance(sdk.cate_id, int) and sdk.parent_id == -1 and sdk.level == 0


def test_three_levels_at_most(fresh):
    root = add(fresh, "level-0")
    child = add(fresh, "level-1", root["CateId"])
    assert (child["Level"], child["ParentId"]) == (1, root["CateId"])
    grandchild = add(fresh, "level-2", child["CateId"])
    assert (grandchild["Level"], grandchild["ParentId"]) == (2, child["CateId"])
    expect_error(lambda: fresh.add_category(cate_name="level-3", parent_id=grandchild["CateId"]), "InvalidParameter",
                 400, "ParentId")
    assert children(fresh, grandchild["CateId"])["SubTotal"] == 0


@pytest.mark.parametrize("parent", [0, -1, None])
def test_parent_below_one_makes_a_root(fresh, parent):
    c = add(fresh, "root", parent)
    assert (c["Level"], c["ParentId"]) == (0, -1)


def test_unknown_parent_is_invalid(fresh):
    expect_error(lambda: fresh.add_category(cate_name="x", parent_id=ABSENT_ID), "InvalidParameter", 400, "ParentId")
    assert children(fresh)["SubTotal"] == 0


def test_cate_name_limits(fresh):
    c = add(fresh, "中" * 21 + "a")  # 64 bytes
    assert c["CateName"] == "中" * 21 + "a"
    expect_error(lambda: fresh.add_category(cate_name="中" * 21 + "ab"), "InvalidParameter", 400, "CateName")
    expect_error(lambda: fresh.add_category(), "MissingParameter", 400, "CateName")
    expect_error(lambda: fresh.add_category(cate_name="x", type="bogus"), "InvalidParameter", 400, "Type")
    expect_error(lambda: fresh.update_category(cate_id=c["CateId"], cate_name="中" * 22), "InvalidParameter", 400,
                 "CateName")
    assert children(fresh)["SubTotal"] == 1


def test_material_type_categories(fresh):
    default = add(fresh, "plain")
    material = add(fresh, "materials", type="material")
    assert material["Type"] == "material"
    assert sub_ids(children(fresh)) == [default["CateId"]]
    assert sub_ids(children(fresh, type="default")) == [default["CateId"]]
    assert sub_ids(children(fresh, type="material")) == [material["CateId"]]
    # A child added under a material category is listed under it.
    child = add(fresh, "sub", material["CateId"])
    raw = children(fresh, material["CateId"])
    assert sub_ids(raw) == [child["CateId"]] and raw["SubTotal"] == 1
    assert children(fresh, type="material")["SubCategories"]["Category"][0]["SubTotal"] == 1


def test_get_categories_roots_and_children(fresh):
    empty = children(fresh)
    assert empty["SubTotal"] == 0 and empty["SubCategories"]["Category"] == []
    a = add(fresh, "a")
    b = add(fresh, "b")
    a1 = add(fresh, "a1", a["CateId"])
    a2 = add(fresh, "a2", a["CateId"])
    a11 = add(fresh, "a11", a1["CateId"])
    roots = children(fresh)
    assert roots["SubTotal"] == 2
    assert sub_ids(roots) == [b["CateId"], a["CateId"]]  # newest first
    by_id = {c["CateId"]: c for c in roots["SubCategories"]["Category"]}
    assert by_id[a["CateId"]]["SubTotal"] == 2 and by_id[b["CateId"]]["SubTotal"] == 0
    raw = children(fresh, a["CateId"])
    assert raw["Category"] == a
    assert raw["SubTotal"] == 2
    assert sorted(sub_ids(raw)) == sorted([a1["CateId"], a2["CateId"]])
    items = {c["CateId"]: c for c in raw["SubCategories"]["Category"]}
    assert (items[a1["CateId"]]["SubTotal"], items[a2["CateId"]]["SubTotal"]) == (1, 0)
    assert items[a1["CateId"]]["Level"] == 1 and items[a1["CateId"]]["ParentId"] == a["CateId"]
    leaf = children(fresh, a11["CateId"])
    assert (leaf["Category"]["Level"], leaf["SubTotal"], sub_ids(leaf)) == (2, 0, [])
    sdk = fresh.get_categories(cate_id=a["CateId"]).resp.body
    assert sdk.sub_total == 2 and len(sdk.sub_categories.category) == 2


def test_get_categories_paging_and_sorting(fresh):
    made = [add(fresh, f"c{i:02d}")["CateId"] for i in range(12)]
    page1 = children(fresh, page_size=10, page_no=1, sort_by="CreationTime:Asc")
    page2 = children(fresh, page_size=10, page_no=2, sort_by="CreationTime:Asc")
    assert (page1["SubTotal"], page2["SubTotal"]) == (12, 12)
    assert sub_ids(page1) + sub_ids(page2) == made
    desc = children(fresh, page_size=100, sort_by="CreationTime:Desc")
    assert sub_ids(desc) == made[::-1]
    assert sub_ids(children(fresh)) == made[::-1][:10]  # default: newest first, 10 per page
    assert sub_ids(children(fresh, page_size=10, page_no=3)) == []


@pytest.mark.parametrize(
    "kw,param",
    [
        ({"page_size": 9}, "PageSize"),
        ({"page_size": 101}, "PageSize"),
        ({"page_no": 0}, "PageNo"),
        ({"sort_by": "Name:Asc"}, "SortBy"),
        ({"type": "bogus"}, "Type"),
        ({"cate_id": ABSENT_ID}, "CateId"),
    ],
)
def test_get_categories_invalid_values(api, kw, param):
    expect_error(lambda: api.get_categories(**kw), "InvalidParameter", 400, param)


def test_update_category(fresh):
    c = add(fresh, "before")
    r = fresh.update_category(cate_id=c["CateId"], cate_name="after 中文")
    assert set(r.raw) == {"RequestId"}
    assert children(fresh, c["CateId"])["Category"]["CateName"] == "after 中文"
    assert children(fresh)["SubCategories"]["Category"][0]["CateName"] == "after 中文"
    expect_error(lambda: fresh.update_category(cate_id=ABSENT_ID, cate_name="x"), "InvalidParameter", 400, "CateId")
    expect_error(lambda: fresh.update_category(cate_id=c["CateId"]), "MissingParameter", 400, "CateName")
    expect_error(lambda: fresh.update_category(cate_name="x"), "MissingParameter", 400, "CateId")


def test_delete_category_removes_subtree_and_uncategorises_media(lib_v3):
    api = lib_v3.api
    root = add(api, "root")
    child = add(api, "child", root["CateId"])
    grandchild = add(api, "grandchild", child["CateId"])
    other = add(api, "other")
    in_child, _ = lib_v3.stub(".png", cate_id=child["CateId"])
    in_grandchild, _ = lib_v3.stub(".m4a", cate_id=grandchild["CateId"])
    in_other, _ = lib_v3.stub(".png", cate_id=other["CateId"])
    in_root, _ = lib_v3.stub(".mp4", cate_id=root["CateId"])
    r = api.delete_category(cate_id=child["CateId"])
    assert set(r.raw) == {"RequestId"}
    for gone in (child, grandchild):
        expect_error(lambda: api.get_categories(cate_id=gone["CateId"]), "InvalidParameter", 400, "CateId")
        expect_error(lambda: api.update_category(cate_id=gone["CateId"], cate_name="x"), "InvalidParameter", 400,
                     "CateId")
    raw = children(api, root["CateId"])
    assert (raw["SubTotal"], sub_ids(raw)) == (0, [])
    assert sorted(sub_ids(children(api))) == sorted([root["CateId"], other["CateId"]])
    # The media of the removed categories are uncategorised; the others keep theirs.
    for m in (in_child, in_grandchild):
        b = api.get_media(media_id=m).raw["MediaInfo"]["MediaBasicInfo"]
        assert "CateId" not in b and "CateName" not in b, b
    assert api.get_media(media_id=in_other).raw["MediaInfo"]["MediaBasicInfo"]["CateId"] == other["CateId"]
    assert api.get_media(media_id=in_root).raw["MediaInfo"]["MediaBasicInfo"]["CateId"] == root["CateId"]
    assert api.search_media(match=f"cateId = {child['CateId']}").raw["Total"] == 0
    assert api.search_media(match=f"cateId = {grandchild['CateId']}").raw["Total"] == 0
    assert api.search_media(match=f"cateId = {root['CateId']}").raw["Total"] == 1
    expect_error(lambda: api.update_media(media_id=in_other, cate_id=grandchild["CateId"]), "InvalidParameter", 400,
                 "CateId")
    expect_error(lambda: api.delete_category(cate_id=child["CateId"]), "InvalidParameter", 400, "CateId")
    expect_error(lambda: api.delete_category(), "MissingParameter", 400, "CateId")


def test_media_category_in_get_list_and_search(lib_v3):
    api = lib_v3.api
    c = add(api, "films")
    media_id, _ = lib_v3.stub(".png")
    api.update_media(media_id=media_id, cate_id=c["CateId"])
    b = api.get_media(media_id=media_id).raw["MediaInfo"]["MediaBasicInfo"]
    assert type(b["CateId"]) is int and b["CateId"] == c["CateId"] and b["CateName"] == "films"
    api.exact = False  # ListMediaBasicInfos: see test_media.py::test_list_answers_only_fields_the_sdk_knows
    [m] = api.list_media().raw["MediaInfos"]
    assert type(m["MediaBasicInfo"]["CateId"]) is int and m["MediaBasicInfo"]["CateId"] == c["CateId"]
    api.exact = True
    [m] = api.search_media(match=f"cateId = {c['CateId']}").raw["MediaInfoList"]
    assert m["MediaBasicInfo"]["CateId"] == c["CateId"] and m["MediaBasicInfo"]["CateName"] == "films"
    # The name follows a rename.
    api.update_category(cate_id=c["CateId"], cate_name="movies")
    assert api.get_media(media_id=media_id).raw["MediaInfo"]["MediaBasicInfo"]["CateName"] == "movies"
    # Moving to another category.
    d = add(api, "docs")
    api.update_media(media_id=media_id, cate_id=d["CateId"])
    assert api.search_media(match=f"cateId = {c['CateId']}").raw["Total"] == 0
    assert api.search_media(match=f"cateId in ({c['CateId']}, {d['CateId']})").raw["Total"] == 1


def test_categories_belong_to_their_account(server, media_files):
    from mediafiles import Library

    a = Library(server, Api(server.endpoint, server.create_account(), "v3"), media_files)
    b = Library(server, Api(server.endpoint, server.create_account(), "v3"), media_files)
    mine = add(a.api, "mine")
    assert children(b.api)["SubTotal"] == 0
    expect_error(lambda: b.api.get_categories(cate_id=mine["CateId"]), "InvalidParameter", 400, "CateId")
    expect_error(lambda: b.api.update_category(cate_id=mine["CateId"], cate_name="stolen"), "InvalidParameter", 400,
                 "CateId")
    expect_error(lambda: b.api.delete_category(cate_id=mine["CateId"]), "InvalidParameter", 400, "CateId")
    expect_error(lambda: b.api.add_category(cate_name="under", parent_id=mine["CateId"]), "InvalidParameter", 400,
                 "ParentId")
    url = b.put("image")
    expect_error(lambda: b.api.register_media(input_url=url, cate_id=mine["CateId"]), "InvalidParameter", 400,
                 "CateId")
    media_id = b.api.register_media(input_url=url).raw["MediaId"]
    expect_error(lambda: b.api.update_media(media_id=media_id, cate_id=mine["CateId"]), "InvalidParameter", 400,
                 "CateId")
    raw = children(a.api, mine["CateId"])
    assert raw["Category"] == mine


def test_at_most_100_categories_per_level(server):
    api = Api(server.endpoint, server.create_account(), "v3")
    root = add(api, "root")
    for i in range(100):
        api.add_category(cate_name=f"c{i}", parent_id=root["CateId"])
    expect_error(lambda: api.add_category(cate_name="c100", parent_id=root["CateId"]), "InvalidParameter", 400)
    assert children(api, root["CateId"])["SubTotal"] == 100
    # Another level is unaffected.
    add(api, "second root")
