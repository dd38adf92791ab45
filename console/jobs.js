// Production: the Produce form on a project's page (SubmitMediaProducingJob) and the Jobs page
// (ListMediaProducingJobs, then GetMediaProducingJob per job for its Progress, which list
// items do not carry), polled every second while a job runs; a finished job plays its output.

import { call } from "./api.js";
import { errorBox, fmtSeconds, fmtTime, formValues, h, mount, statusBadge } from "./dom.js";

const POLL_MS = 1000;
const RUNNING = ["Init", "Queuing", "Processing"];
const PAGE_SIZE = 20;

/** The Produce form for one project. The output bucket must be the account's: the default is
 * the bucket of one of the project's materials, else a fresh console-output-… name. */
export function produceForm(projectId, materials) {
  const bucket = materials
    .map((m) => /^oss:\/\/([^/]+)\//.exec(m.MediaBasicInfo?.InputURL || "")?.[1])
    .find(Boolean);
  const fallback = `console-output-${Math.random().toString(36).slice(2, 10)}`;
  const message = h("div.message");
  const form = h(
    "form#produce-form.card",
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const v = formValues(form);
        const button = form.querySelector("button");
        button.disabled = true;
        try {
          await call("SubmitMediaProducingJob", {
            ProjectId: projectId,
            OutputMediaConfig: JSON.stringify({ MediaURL: v.url }),
            MediaMetadata: v.title ? JSON.stringify({ Title: v.title }) : undefined,
          });
          location.hash = "#/jobs";
        } catch (e) {
          mount(message, errorBox(e));
          button.disabled = false;
        }
      },
    },
    h("h2", {}, "Produce"),
    h(
      "label",
      {},
      "Output MediaURL (an oss:// URL in one of your buckets)",
      h("input#produce-url", {
        name: "url",
        required: true,
        spellcheck: "false",
        value: `oss://${bucket || fallback}/console-output/${projectId}.mp4`,
      }),
    ),
    h("label", {}, "Title of the produced media", h("input#produce-title", { name: "title" })),
    h("button.primary#produce", { type: "submit" }, "Produce"),
    message,
  );
  return form;
}

export async function list(main) {
  const body = h("div#jobs-results");
  const message = h("div.message");
  mount(main, h("div.page-head", {}, h("h1", {}, "Production jobs")), message, body);
  const players = new Map();

  async function load() {
    const r = await call("ListMediaProducingJobs", { MaxResults: PAGE_SIZE });
    const jobs = await Promise.all(
      (r.MediaProducingJobList || []).map(async (j) =>
        RUNNING.includes(j.Status) || j.Status === "Success"
          ? (await call("GetMediaProducingJob", { JobId: j.JobId })).MediaProducingJob
          : j,
      ),
    );
    mount(body, table(jobs, players));
    return jobs.some((j) => RUNNING.includes(j.Status));
  }

  async function tick() {
    if (location.hash !== "#/jobs") return;
    try {
      if (await load()) setTimeout(tick, POLL_MS);
    } catch (e) {
      mount(message, errorBox(e));
    }
  }
  await load().then((running) => running && setTimeout(tick, POLL_MS));
}

function table(jobs, players) {
  if (!jobs.length) return h("p.empty", {}, "No jobs yet: open a project and Produce it.");
  return h(
    "table#jobs.list",
    {},
    h("thead", {}, h("tr", {}, ["Job", "Project", "Status", "Progress", "Duration", "Created", "Output"].map((c) => h("th", {}, c)))),
    h(
      "tbody",
      {},
      jobs.map((j) => {
        const progress = j.Status === "Success" ? 100 : Number(j.Progress ?? 0);
        return h(
          "tr.job",
          { "data-job-id": j.JobId, "data-status": j.Status },
          h("td", {}, h("code.small", {}, j.JobId)),
          h("td", {}, h("a", { href: `#/projects/${j.ProjectId}` }, j.ProjectId)),
          h("td", {}, statusBadge(j.Status), j.Code ? h("div.small.muted", {}, `${j.Code}: ${j.Message || ""}`) : null),
          h("td", {}, h("progress.job-progress", { max: "100", value: String(progress) }), ` ${progress}%`),
          h("td", {}, j.Duration ? fmtSeconds(j.Duration) : "—"),
          h("td", {}, fmtTime(j.CreateTime)),
          h("td", {}, j.Status === "Success" ? output(j, players) : h("code.small", {}, j.MediaURL)),
        );
      }),
    ),
  );
}

/** The produced media: a link to its page and a player once its FileUrl is known. Players are
 * kept across polls so a playing video is not restarted when the table is redrawn. */
function output(job, players) {
  if (!players.has(job.JobId)) {
    const slot = h("div.job-output", {}, h("a", { href: `#/media/${job.MediaId}` }, "Media"));
    players.set(job.JobId, slot);
    call("GetMediaInfo", { MediaId: job.MediaId })
      .then(({ MediaInfo: m }) => {
        const url = m.FileInfoList?.[0]?.FileBasicInfo?.FileUrl;
        if (url) slot.append(" · ", h("a.output-link", { href: url, target: "_blank", rel: "noopener" }, "File"), h("video.job-player", { src: url, controls: true, preload: "auto" }));
      })
      .catch((e) => slot.append(errorBox(e)));
  }
  return players.get(job.JobId);
}
