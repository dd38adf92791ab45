// Editing projects: search and paging (ListEditingProjects), create, delete, and one
// project's page with its timeline drawn to scale (GetEditingProject RequestSource=WebSDK)
// and its materials (GetEditingProjectMaterials).

import { call } from "./api.js";
import { produceForm } from "./jobs.js";
import { errorBox, fmtSeconds, fmtTime, formValues, h, isoFromLocal, mount, pager, statusBadge } from "./dom.js";

const STATUSES = ["Draft", "Editing", "Producing", "Produced", "ProduceFailed"];
const PAGE_SIZE = 20;

// Filters and page survive visits to a project and back (this tab only).
const state = { filters: {}, page: 1, tokens: [""] };

export async function list(main) {
  const results = h("div#project-results");
  const message = h("div.message");

  const filterForm = h(
    "form#project-search.filters",
    {
      onsubmit: (ev) => {
        ev.preventDefault();
        state.filters = formValues(filterForm);
        state.page = 1;
        state.tokens = [""];
        load();
      },
    },
    h("input", { name: "keyword", placeholder: "Title or ProjectId", value: state.filters.keyword || "" }),
    h(
      "select",
      { name: "status", "aria-label": "status" },
      h("option", { value: "" }, "Any status"),
      STATUSES.map((s) => h("option", { value: s, selected: state.filters.status === s }, s)),
    ),
    h("label.inline", {}, "Created from", h("input", { name: "from", type: "datetime-local", value: state.filters.from || "" })),
    h("label.inline", {}, "to", h("input", { name: "to", type: "datetime-local", value: state.filters.to || "" })),
    h(
      "select",
      { name: "sort", "aria-label": "order" },
      h("option", { value: "CreationTime:Desc" }, "Newest first"),
      h("option", { value: "CreationTime:Asc", selected: state.filters.sort === "CreationTime:Asc" }, "Oldest first"),
    ),
    h("button", { type: "submit" }, "Search"),
  );

  const createForm = h(
    "form#project-create.card",
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const v = formValues(createForm);
        try {
          const r = await call("CreateEditingProject", {
            Title: v.title,
            Description: v.description,
            Timeline: v.timeline,
          });
          location.hash = `#/projects/${r.Project.ProjectId}`;
        } catch (e) {
          mount(message, errorBox(e));
        }
      },
    },
    h("h2", {}, "New project"),
    h("label", {}, "Title", h("input#new-project-title", { name: "title", required: true, maxlength: "128" })),
    h("label", {}, "Description", h("input", { name: "description" })),
    h("label", {}, "Timeline (JSON, optional)", h("textarea", { name: "timeline", rows: 3, placeholder: '{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"…"}]}]}' })),
    h("button.primary", { type: "submit" }, "Create"),
  );

  async function load() {
    const f = state.filters;
    mount(message);
    try {
      const r = await call("ListEditingProjects", {
        Keyword: f.keyword,
        Status: f.status,
        StartTime: isoFromLocal(f.from),
        EndTime: isoFromLocal(f.to),
        SortBy: f.sort,
        MaxResults: PAGE_SIZE,
        NextToken: state.tokens[state.page - 1] || undefined,
      });
      state.tokens[state.page] = r.NextToken || "";
      mount(results, table(r.ProjectList || [], load), pager({
        page: state.page,
        hasNext: Boolean(r.NextToken),
        onPage: (p) => {
          state.page = p;
          load();
        },
      }));
    } catch (e) {
      mount(results);
      mount(message, errorBox(e));
    }
  }

  mount(main, h("div.page-head", {}, h("h1", {}, "Projects")), filterForm, message, results, createForm);
  await load();
}

function table(projects, reload) {
  if (!projects.length) return h("p.empty", {}, "No projects match.");
  return h(
    "table#project-list.list",
    {},
    h("thead", {}, h("tr", {}, ["Title", "Status", "Created", "Modified", "ProjectId", ""].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      projects.map((p) =>
        h(
          "tr",
          { "data-project-id": p.ProjectId },
          h("td", {}, h("a.project-link", { href: `#/projects/${p.ProjectId}` }, p.Title || "(untitled)")),
          h("td", {}, statusBadge(p.Status)),
          h("td", {}, fmtTime(p.CreateTime)),
          h("td", {}, fmtTime(p.ModifiedTime)),
          h("td", {}, h("code.small", {}, p.ProjectId)),
          h("td", {}, h("button.danger.delete-project", { type: "button", onclick: () => remove(p, reload) }, "Delete")),
        ),
      ),
    ),
  );
}

async function remove(project, after) {
  if (!confirm(`Delete project "${project.Title}"?`)) return;
  await call("DeleteEditingProjects", { ProjectIds: project.ProjectId });
  await after();
}

// ---- one project

const TRACKS = [
  ["VideoTracks", "VideoTrackClips", "video"],
  ["ImageTracks", "ImageTrackClips", "image"],
  ["AudioTracks", "AudioTrackClips", "audio"],
  ["SubtitleTracks", "SubtitleTrackClips", "subtitle"],
  ["EffectTracks", "EffectTrackItems", "effect"],
];

export async function detail(main, projectId) {
  const [{ Project: p }, materials] = await Promise.all([
    call("GetEditingProject", { ProjectId: projectId, RequestSource: "WebSDK" }),
    call("GetEditingProjectMaterials", { ProjectId: projectId }),
  ]);
  let timeline = {};
  let timelineError = null;
  try {
    timeline = p.Timeline ? JSON.parse(p.Timeline) : {};
  } catch (e) {
    timelineError = e;
  }
  mount(
    main,
    h("p.crumbs", {}, h("a", { href: "#/projects" }, "Projects"), " / ", p.Title),
    h("div.page-head", {}, h("h1#project-title", {}, p.Title || "(untitled)"), statusBadge(p.Status)),
    h(
      "dl.facts",
      {},
      fact("ProjectId", h("code", {}, p.ProjectId)),
      fact("Duration", h("span#project-duration", {}, fmtSeconds(p.Duration))),
      fact("Created", fmtTime(p.CreateTime)),
      fact("Modified", fmtTime(p.ModifiedTime)),
      fact("Source", p.CreateSource),
      p.Description ? fact("Description", p.Description) : null,
      p.TimelineConvertStatus === "ConvertFailed" ? fact("Timeline", p.TimelineConvertErrorMessage) : null,
    ),
    h("h2", {}, "Timeline"),
    timelineError
      ? errorBox({ code: "InvalidTimeline", message: timelineError.message })
      : drawTimeline(timeline, Number(p.Duration) || 0, mediaTitles(materials.MediaInfos || [])),
    h("h2", {}, "Materials"),
    materialTable(materials.MediaInfos || []),
    produceForm(p.ProjectId, materials.MediaInfos || []),
  );
}

const fact = (name, value) => [h("dt", {}, name), h("dd", {}, value)];

const mediaTitles = (infos) => new Map(infos.map((m) => [m.MediaId, m.MediaBasicInfo?.Title]));

/** Tracks of clips on a ruler from 0 to the project Duration (or the last clip end); clips
 * are labelled with their media's title where the project's materials know it. */
export function drawTimeline(timeline, duration, titles = new Map()) {
  const tracks = [];
  for (const [listKey, clipKey, kind] of TRACKS) {
    (timeline[listKey] || []).forEach((track, i) => tracks.push({ kind, name: `${kind} ${i + 1}`, clips: track[clipKey] || [] }));
  }
  const ends = tracks.flatMap((t) => t.clips.map((c) => Number(c.TimelineOut) || 0));
  const span = Math.max(duration, ...ends, 0) || 1;
  const pct = (t) => `${(Math.min(Math.max(t, 0), span) / span) * 100}%`;
  if (!tracks.length) return h("p.empty#timeline-empty", {}, "The timeline is empty.");

  const step = niceStep(span / 8);
  const ticks = [];
  for (let t = 0; t < span - step / 4; t += step) ticks.push(t);
  return h(
    "div#timeline.timeline",
    {},
    h(
      "div.track.ruler",
      {},
      h("div.track-name", {}, "time"),
      h(
        "div.lane",
        {},
        ticks.map((t) => h("span.tick", { style: { left: pct(t) } }, fmtSeconds(t))),
        h("span.tick.end", { style: { left: "100%" }, title: "project Duration" }, fmtSeconds(duration)),
      ),
    ),
    tracks.map((t) =>
      h(
        `div.track.track-${t.kind}`,
        { "data-kind": t.kind },
        h("div.track-name", {}, t.name),
        h(
          "div.lane",
          {},
          t.clips.map((c) => {
            const start = Number(c.TimelineIn) || 0;
            const end = Number(c.TimelineOut) || start;
            const label = c.Title || titles.get(c.MediaId) || c.Content || c.MediaId || c.MediaURL || c.SubType || c.Type || kindLabel(t.kind);
            return h(
              `div.clip.clip-${t.kind}`,
              {
                style: { left: pct(start), width: pct(end - start) },
                title: `${label}\n${fmtSeconds(start)} → ${fmtSeconds(end)}`,
                "data-in": String(start),
                "data-out": String(end),
              },
              h("span", {}, label),
            );
          }),
        ),
      ),
    ),
  );
}

const kindLabel = (k) => k[0].toUpperCase() + k.slice(1);

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-3)));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
}

function materialTable(infos) {
  if (!infos.length) return h("p.empty#materials-empty", {}, "No materials are attached.");
  return h(
    "table#material-list.list",
    {},
    h("thead", {}, h("tr", {}, ["", "Title", "Type", "Status", "MediaId"].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      infos.map((m) => {
        const b = m.MediaBasicInfo || {};
        return h(
          "tr",
          { "data-media-id": m.MediaId },
          h("td", {}, b.CoverURL ? h("img.thumb", { src: b.CoverURL, alt: "" }) : null),
          h("td", {}, h("a", { href: `#/media/${m.MediaId}` }, b.Title || m.MediaId)),
          h("td", {}, b.MediaType || "—"),
          h("td", {}, statusBadge(b.Status)),
          h("td", {}, h("code.small", {}, m.MediaId)),
        );
      }),
    ),
  );
}
