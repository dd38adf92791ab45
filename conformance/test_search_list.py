"""SearchEditingProject and ListEditingProjects (api-projects-media.md A5/A6, decisions.md
"Paging", "Out-of-range page size"). Each test works in a brand-new account, so the result
set is exactly what the test created."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from icehelpers import LIVE_CONFIG, check_time, expect_error, fmt_time, is_number, parse_time, timeline

SEARCH_ITEM_STRINGS = (
    "ProjectId", "Title", "Description", "Timeline", "CoverURL", "CreateTime", "ModifiedTime",
    "CreateSource", "ModifiedSource", "TemplateType", "ProjectType", "BusinessConfig",
    "BusinessStatus", "ErrorCode", "ErrorMessage", "Status",
)
LIST_ITEM_STRINGS = (
    "ProjectId", "Title", "Description", "CoverURL", "Status", "CreateTime", "ModifiedTime",
    "CreateSource", "ModifiedSource", "TemplateType", "ProjectType", "BusinessConfig",
    "BusinessStatus", "ErrorCode", "ErrorMessage",
)


def make_projects(api, n: int, prefix: str = "p") -> list[str]:
    """n projects, in creation order."""
    return [api.create(title=f"{prefix}{i}").raw["Project"]["ProjectId"] for i in range(n)]


def ids(result) -> list[str]:
    return [p["ProjectId"] for p in result.raw["ProjectList"]]


# ---- SearchEditingProject


def test_search_item_shape(fresh):
    tl = timeline({"MediaId": "a" * 32, "In": 1, "Out": 3.5})
    created = fresh.create(title="s", description="d", cover_url="http://x.example/c.png", timeline=tl).raw["Project"]
    r = fresh.search()
    assert set(r.raw) >= {"RequestId", "ProjectList", "TotalCount", "MaxResults"}
    assert type(r.raw["TotalCount"]) is int and r.raw["TotalCount"] == 1
    assert type(r.raw["MaxResults"]) is int and r.raw["MaxResults"] == 10
    assert not r.raw.get("NextToken")
    [item] = r.raw["ProjectList"]
    for name in SEARCH_ITEM_STRINGS:
        if name in item:
            assert isinstance(item[name], str), (name, item[name])
    assert item["Status"] == "Editing"
    assert is_number(item["Duration"]) and item["Duration"] == pytest.approx(2.5)
    assert "TemplateId" not in item and "ClipsParam" not in item and "StatusName" not in item
    for key in ("ProjectId", "Title", "Description", "CoverURL", "Timeline", "CreateTime", "ModifiedTime",
                "CreateSource", "ModifiedSource", "ProjectType"):
        assert item[key] == created[key], key
    check_time(item["CreateTime"])
    assert r.resp.body.project_list[0].project_id == created["ProjectId"]


def test_search_empty_account(fresh):
    r = fresh.search()
    assert r.raw["ProjectList"] == [] and r.raw["TotalCount"] == 0


def test_search_paging_and_sorting(fresh):
    created = make_projects(fresh, 12)
    # Default: newest first, page 1, 10 per page.
    r = fresh.search()
    assert ids(r) == created[::-1][:10]
    assert (r.raw["TotalCount"], r.raw["MaxResults"]) == (12, 10)
    assert ids(fresh.search(sort_by="CreationTime:Desc")) == created[::-1][:10]
    # Ascending, page by page: no gap, no duplicate.
    pages = [fresh.search(sort_by="CreationTime:Asc", page_size=5, page_no=n) for n in (1, 2, 3)]
    assert [len(ids(p)) for p in pages] == [5, 5, 2]
    assert sum((ids(p) for p in pages), []) == created
    for p in pages:
        assert (p.raw["TotalCount"], p.raw["MaxResults"]) == (12, 5)
    # Descending pages are the reverse.
    pages = [fresh.search(sort_by="CreationTime:Desc", page_size=5, page_no=n) for n in (1, 2, 3)]
    assert sum((ids(p) for p in pages), []) == created[::-1]
    # Beyond the end: empty page, total still counted.
    r = fresh.search(page_size=5, page_no=4)
    assert ids(r) == [] and r.raw["TotalCount"] == 12
    assert ids(fresh.search(page_size=100)) == created[::-1]


@pytest.mark.parametrize("page_size", [0, 101, -1])
def test_search_page_size_out_of_range_is_invalid(api, page_size):
    expect_error(lambda: api.search(page_size=page_size), "InvalidParameter", 400, "PageSize")


def test_search_page_no_zero_is_invalid(api):
    expect_error(lambda: api.search(page_no=0), "InvalidParameter", 400, "PageNo")


def test_search_bad_sort_by_is_invalid(api):
    expect_error(lambda: api.search(sort_by="Title:Asc"), "InvalidParameter", 400, "SortBy")


def test_search_status_filter(fresh):
    draft = fresh.create(title="draft").raw["Project"]["ProjectId"]
    editing = fresh.create(title="editing", timeline=timeline({"MediaId": "x", "Out": 1})).raw["Project"]["ProjectId"]
    assert ids(fresh.search(status="Draft")) == [draft]
    assert ids(fresh.search(status="Editing")) == [editing]
    r = fresh.search(status="Draft,Editing")
    assert set(ids(r)) == {draft, editing} and r.raw["TotalCount"] == 2
    r = fresh.search(status="Produced,ProduceFailed")
    assert ids(r) == [] and r.raw["TotalCount"] == 0
    expect_error(lambda: fresh.search(status="Bogus"), "InvalidParameter", 400, "Status")


def test_search_create_source_filter(fresh):
    pid = fresh.create(title="api").raw["Project"]["ProjectId"]
    assert ids(fresh.search(create_source="OpenAPI")) == [pid]
    assert ids(fresh.search(create_source="WebSDK")) == []
    assert ids(fresh.search(create_source="AliyunConsole")) == []
    expect_error(lambda: fresh.search(create_source="Bogus"), "InvalidParameter", 400, "CreateSource")


def test_search_time_filters(fresh):
    first = fresh.create(title="first").raw["Project"]
    time.sleep(2.1)
    second = fresh.create(title="second").raw["Project"]
    t1, t2 = parse_time(first["CreateTime"]), parse_time(second["CreateTime"])
    assert t2 - t1 >= dt.timedelta(seconds=2)
    middle = fmt_time(t1 + dt.timedelta(seconds=1))
    a, b = first["ProjectId"], second["ProjectId"]
    assert ids(fresh.search(start_time=middle)) == [b]
    assert ids(fresh.search(end_time=middle)) == [a]
    assert ids(fresh.search(start_time=first["CreateTime"], end_time=fmt_time(t2 + dt.timedelta(seconds=1)))) == [b, a]
    # StartTime is inclusive at the displayed (second-precision) CreateTime.
    assert ids(fresh.search(start_time=second["CreateTime"])) == [b]
    assert ids(fresh.search(start_time=fmt_time(t2 + dt.timedelta(seconds=2)))) == []
    assert ids(fresh.search(end_time=fmt_time(t1 - dt.timedelta(seconds=1)))) == []
    # The same filters in ListEditingProjects.
    assert ids(fresh.list(start_time=middle)) == [b]
    assert ids(fresh.list(end_time=middle)) == [a]


def test_search_bad_time_is_invalid(api):
    expect_error(lambda: api.search(start_time="yesterday"), "InvalidParameter", 400, "StartTime")
    expect_error(lambda: api.search(end_time="2021-01-08 16:52:07"), "InvalidParameter", 400, "EndTime")


def test_search_project_type(fresh):
    regular = fresh.create(title="regular").raw["Project"]["ProjectId"]
    live = fresh.create(title="live", project_type="LiveEditingProject", business_config=LIVE_CONFIG).raw["Project"][
        "ProjectId"
    ]
    assert ids(fresh.search(project_type="LiveEditingProject")) == [live]
    assert ids(fresh.search(project_type="EditingProject")) == [regular]
    item = fresh.search(project_type="LiveEditingProject").raw["ProjectList"][0]
    assert (item["ProjectType"], item["BusinessStatus"]) == ("LiveEditingProject", "Reserving")
    assert ids(fresh.list(project_type="LiveEditingProject")) == [live]
    assert ids(fresh.list(project_type="EditingProject")) == [regular]
    expect_error(lambda: fresh.search(project_type="Bogus"), "InvalidParameter", 400, "ProjectType")


def test_search_project_type_defaults_to_editing_project(fresh):
    # api-projects-media.md A5: ProjectType default `EditingProject`.
    regular = fresh.create(title="regular").raw["Project"]["ProjectId"]
    fresh.create(title="live", project_type="LiveEditingProject", business_config=LIVE_CONFIG)
    r = fresh.search()
    assert ids(r) == [regular] and r.raw["TotalCount"] == 1


def test_search_template_type_none(fresh):
    pid = fresh.create(title="plain").raw["Project"]["ProjectId"]
    assert ids(fresh.search(template_type="None")) == [pid]
    assert ids(fresh.search(template_type="VETemplate")) == []


# ---- ListEditingProjects


def test_list_item_shape(fresh):
    created = fresh.create(title="l", description="d", timeline=timeline({"MediaId": "x", "Out": 2})).raw["Project"]
    r = fresh.list()
    assert set(r.raw) >= {"RequestId", "ProjectList", "MaxResults"}
    assert "TotalCount" not in r.raw
    assert type(r.raw["MaxResults"]) is int and r.raw["MaxResults"] == 10
    assert not r.raw.get("NextToken")
    [item] = r.raw["ProjectList"]
    for name in LIST_ITEM_STRINGS:
        if name in item:
            assert isinstance(item[name], str), (name, item[name])
    # No Timeline, no Duration in list items.
    assert "Timeline" not in item and "Duration" not in item
    assert item["Status"] == "Editing"
    for key in ("ProjectId", "Title", "Description", "CreateTime", "ModifiedTime", "CreateSource",
                "ModifiedSource", "ProjectType"):
        assert item[key] == created[key], key


def walk(api, **kw) -> tuple[list[str], int]:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        r = api.list(next_token=token, **kw)
        pages += 1
        assert pages < 50
        page = ids(r)
        if "max_results" in kw:
            assert len(page) <= int(kw["max_results"])
            assert r.raw["MaxResults"] == int(kw["max_results"])
        seen += page
        token = r.raw.get("NextToken")
        if not token:
            return seen, pages
        assert isinstance(token, str)


def test_list_walks_all_pages(fresh):
    created = make_projects(fresh, 8)
    seen, pages = walk(fresh, max_results="3")
    assert seen == created[::-1]
    assert pages in (3, 4)
    seen, _ = walk(fresh, max_results="3", sort_by="CreationTime:Asc")
    assert seen == created
    seen, pages = walk(fresh, max_results="8")
    assert seen == created[::-1] and pages in (1, 2)
    seen, pages = walk(fresh, max_results="100")
    assert seen == created[::-1] and pages == 1
    # Default page size 10.
    more = make_projects(fresh, 4, prefix="q")
    first = fresh.list()
    assert ids(first) == (created + more)[::-1][:10] and first.raw.get("NextToken")


def test_list_walk_with_filter(fresh):
    drafts = make_projects(fresh, 3, prefix="d")
    editing = [fresh.create(title=f"e{i}", timeline=timeline({"MediaId": "x", "Out": 1})).raw["Project"]["ProjectId"]
               for i in range(4)]
    seen, _ = walk(fresh, max_results="2", status="Editing")
    assert seen == editing[::-1]
    seen, _ = walk(fresh, max_results="2", status="Draft")
    assert seen == drafts[::-1]


def test_list_walk_survives_deletion(fresh):
    created = make_projects(fresh, 6)
    r = fresh.list(max_results="2")
    first = ids(r)
    assert first == created[::-1][:2]
    # Delete the project the cursor points at; the walk goes on without gaps or duplicates.
    fresh.delete(first[-1])
    rest, _ = walk_from(fresh, r.raw["NextToken"], max_results="2")
    assert rest == created[::-1][2:]


def walk_from(api, token, **kw):
    seen = []
    pages = 0
    while token:
        r = api.list(next_token=token, **kw)
        seen += ids(r)
        token = r.raw.get("NextToken")
        pages += 1
        assert pages < 50
    return seen, pages


def test_list_next_token_with_other_filters_is_invalid(fresh):
    make_projects(fresh, 5)
    token = fresh.list(max_results="2").raw["NextToken"]
    assert token
    expect_error(lambda: fresh.list(max_results="2", next_token=token, sort_by="CreationTime:Asc"),
                 "InvalidParameter", 400, "NextToken")
    expect_error(lambda: fresh.list(max_results="2", next_token=token, status="Draft"),
                 "InvalidParameter", 400, "NextToken")
    expect_error(lambda: fresh.list(max_results="2", next_token=token, create_source="OpenAPI"),
                 "InvalidParameter", 400, "NextToken")
    # The same filters again: fine.
    assert len(ids(fresh.list(max_results="2", next_token=token))) == 2


def test_list_next_token_of_another_account_is_invalid(server, make_api, fresh):
    make_projects(fresh, 3)
    token = fresh.list(max_results="1").raw["NextToken"]
    other = make_api(server.create_account())
    make_projects(other, 3)
    expect_error(lambda: other.list(max_results="1", next_token=token), "InvalidParameter", 400, "NextToken")


@pytest.mark.parametrize("token", ["garbage", "AAAA", "x" * 300])
def test_list_garbage_next_token_is_invalid(api, token):
    expect_error(lambda: api.list(next_token=token), "InvalidParameter", 400, "NextToken")


@pytest.mark.parametrize("max_results", ["0", "101", "abc"])
def test_list_max_results_out_of_range_is_invalid(api, max_results):
    expect_error(lambda: api.list(max_results=max_results), "InvalidParameter", 400, "MaxResults")


def test_list_keyword_matches_title(fresh):
    a = fresh.create(title="holiday in Rome").raw["Project"]["ProjectId"]
    fresh.create(title="board meeting")
    assert ids(fresh.list(keyword="Rome")) == [a]
    assert ids(fresh.list(keyword=a)) == [a]
    assert ids(fresh.list(keyword="nothing-matches")) == []
