// The media library: list (ListMediaBasicInfos) or search by title (SearchMedia), register
// from a URL, and one media's page with its streams, playback, edit and delete.

import { ApiError, call, cryptoHashes } from "./api.js";
import { signOssV1 } from "./sign.js";
import { errorBox, fmtBytes, fmtSeconds, fmtTime, formValues, h, mount, pager, statusBadge } from "./dom.js";

const PAGE_SIZE = 20;
const TYPES = ["video", "audio", "image", "text"];
const STATUSES = ["Init", "Preparing", "Normal", "PrepareFail"];
const POLL_MS = 1500;

const state = { filters: {}, page: 1, tokens: [""] };

export async function list(main) {
  const results = h("div#media-results");
  const message = h("div.message");

  const filterForm = h(
    "form#media-search.filters",
    {
      onsubmit: (ev) => {
        ev.preventDefault();
        state.filters = formValues(filterForm);
        state.page = 1;
        state.tokens = [""];
        load();
      },
    },
    h("input", { name: "title", placeholder: "Title contains", value: state.filters.title || "" }),
    select("type", "Any type", TYPES, state.filters.type),
    select("status", "Any status", STATUSES, state.filters.status),
    h("button", { type: "submit" }, "Search"),
  );

  const registerForm = h(
    "form#media-register.card",
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const v = formValues(registerForm);
        try {
          const r = await call("RegisterMediaInfo", { InputURL: v.url, Title: v.title, MediaTags: v.tags });
          location.hash = `#/media/${r.MediaId}`;
        } catch (e) {
          mount(message, errorBox(e));
        }
      },
    },
    h("h2", {}, "Register media from a URL"),
    h("label", {}, "InputURL", h("input#register-url", { name: "url", required: true, placeholder: "oss://bucket/path/file.mp4" })),
    h("label", {}, "Title", h("input", { name: "title" })),
    h("label", {}, "Tags (comma-separated)", h("input", { name: "tags" })),
    h("button.primary", { type: "submit" }, "Register"),
  );

  async function load() {
    const f = state.filters;
    mount(message);
    try {
      const { items, hasNext, total } = f.title ? await search(f) : await listPage(f);
      mount(results, grid(items), pager({
        page: state.page,
        hasNext,
        total,
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

  mount(main, h("div.page-head", {}, h("h1", {}, "Media library")), filterForm, message, results, uploadForm(load), registerForm);
  await load();
}

/** Upload from this computer: CreateUploadMedia's STS credentials sign an OSS V1 PUT to the
 * same origin (path style); then the list shows the new media and links to its page, which
 * follows the probe as after a registration. */
function uploadForm(reload) {
  const bar = h("progress#upload-progress", { max: "100", value: "0" });
  const note = h("div.message");
  const form = h(
    "form#media-upload.card",
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const file = form.querySelector("input[type=file]").files[0];
        const title = formValues(form).title || file.name;
        const button = form.querySelector("button");
        button.disabled = true;
        try {
          const dot = file.name.lastIndexOf(".");
          const created = await call("CreateUploadMedia", {
            FileInfo: JSON.stringify({
              Name: dot > 0 ? file.name.slice(0, dot) : file.name,
              Ext: dot > 0 ? file.name.slice(dot + 1) : "",
              Size: file.size,
              Type: ["audio", "image"].find((t) => file.type.startsWith(`${t}/`)) || "video",
            }),
            MediaMetaData: JSON.stringify({ Title: title }),
          });
          const address = JSON.parse(atob(created.UploadAddress));
          const auth = JSON.parse(atob(created.UploadAuth));
          mount(note, h("p.muted", {}, `Uploading to oss://${address.Bucket}/${address.FileName}…`));
          await put(file, address, auth, bar);
          mount(note, h("p", {}, "Uploaded: ", h("a#upload-done", { href: `#/media/${created.MediaId}` }, title)));
          button.disabled = false;
          await reload();
        } catch (e) {
          mount(note, errorBox(e));
          button.disabled = false;
        }
      },
    },
    h("h2", {}, "Upload from this computer"),
    h("label", {}, "File", h("input#upload-file", { type: "file", name: "file", required: true })),
    h("label", {}, "Title", h("input#upload-title", { name: "title", placeholder: "the file name" })),
    h("button.primary", { type: "submit" }, "Upload"),
    " ",
    bar,
    note,
  );
  return form;
}

async function put(file, address, auth, bar) {
  const headers = {
    "content-type": file.type || "application/octet-stream",
    "x-oss-date": new Date().toUTCString(),
    "x-oss-security-token": auth.SecurityToken,
  };
  const { authorization } = await signOssV1({
    method: "PUT",
    bucket: address.Bucket,
    key: address.FileName,
    headers,
    accessKeyId: auth.AccessKeyId,
    secret: auth.AccessKeySecret,
    crypto: cryptoHashes,
  });
  const path = `/${address.Bucket}/${address.FileName.split("/").map(encodeURIComponent).join("/")}`;
  await new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", path);
    for (const [k, v] of Object.entries({ ...headers, authorization })) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) bar.value = (100 * ev.loaded) / ev.total;
    };
    xhr.onload = () => {
      if (xhr.status < 300) {
        bar.value = 100;
        resolve();
        return;
      }
      // OSS errors are XML: <Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId>.
      const doc = new DOMParser().parseFromString(xhr.responseText, "application/xml");
      const text = (tag) => doc.querySelector(tag)?.textContent || "";
      reject(new ApiError(text("Code") || `HTTP${xhr.status}`, text("Message") || xhr.statusText, text("RequestId"), xhr.status));
    };
    xhr.onerror = () => reject(new ApiError("NetworkError", "The upload did not reach the server."));
    xhr.send(file);
  });
}

const select = (name, any, values, current) =>
  h(
    "select",
    { name, "aria-label": name },
    h("option", { value: "" }, any),
    values.map((v) => h("option", { value: v, selected: current === v }, v)),
  );

async function listPage(f) {
  const r = await call("ListMediaBasicInfos", {
    MediaType: f.type,
    Status: f.status,
    MaxResults: PAGE_SIZE,
    NextToken: state.tokens[state.page - 1] || undefined,
    IncludeFileBasicInfo: "true",
  });
  state.tokens[state.page] = r.NextToken || "";
  return { items: r.MediaInfos || [], hasNext: Boolean(r.NextToken), total: r.TotalCount };
}

/** SearchMedia's Match expression; quotes are dropped from the title (the subset has no escape). */
async function search(f) {
  const terms = [`title like '%${f.title.replaceAll("'", "")}%'`];
  if (f.type) terms.push(`mediaType = '${f.type}'`);
  if (f.status) terms.push(`status = '${f.status}'`);
  const r = await call("SearchMedia", { Match: terms.join(" and "), PageNo: state.page, PageSize: PAGE_SIZE });
  return { items: r.MediaInfoList || [], hasNext: state.page * PAGE_SIZE < r.Total, total: r.Total };
}

function grid(items) {
  if (!items.length) return h("p.empty", {}, "No media match.");
  return h(
    "div#media-list.grid",
    {},
    items.map((m) => {
      const b = m.MediaBasicInfo || {};
      const file = (m.FileInfoList || [])[0]?.FileBasicInfo || {};
      return h(
        "a.media-card",
        { href: `#/media/${m.MediaId}`, "data-media-id": m.MediaId },
        b.CoverURL ? h("img.cover", { src: b.CoverURL, alt: "", loading: "lazy" }) : h("div.cover.placeholder", {}, b.MediaType || "media"),
        h("div.card-title", {}, b.Title || m.MediaId),
        h(
          "div.card-meta",
          {},
          statusBadge(b.Status),
          " ",
          b.MediaType || "",
          file.Duration ? ` · ${fmtSeconds(file.Duration)}` : "",
          file.FileSize ? ` · ${fmtBytes(file.FileSize)}` : "",
        ),
      );
    }),
  );
}

// ---- one media

export async function detail(main, mediaId) {
  const { MediaInfo: info } = await call("GetMediaInfo", { MediaId: mediaId });
  const b = info.MediaBasicInfo || {};
  const files = info.FileInfoList || [];
  const file = files[0]?.FileBasicInfo || {};
  const message = h("div.message");

  const editForm = h(
    "form#media-edit.card",
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const v = formValues(editForm);
        try {
          // An empty title is left out (unchanged); tags are replaced as a whole, "" clears them.
          await call("UpdateMediaInfo", { MediaId: mediaId, Title: v.title, MediaTags: v.tags ?? "", AppendTags: "false" });
          await detail(main, mediaId);
        } catch (e) {
          mount(message, errorBox(e));
        }
      },
    },
    h("h2", {}, "Edit"),
    h("label", {}, "Title", h("input#edit-title", { name: "title", value: b.Title || "", maxlength: "128" })),
    h("label", {}, "Tags (comma-separated)", h("input#edit-tags", { name: "tags", value: b.MediaTags || "" })),
    h("button.primary", { type: "submit" }, "Save"),
    " ",
    h(
      "button.danger#media-delete",
      {
        type: "button",
        onclick: async () => {
          if (!confirm(`Delete "${b.Title || mediaId}"? The registration is removed; the file stays in its bucket.`)) return;
          try {
            await call("DeleteMediaInfos", { MediaIds: mediaId });
            location.hash = "#/media";
          } catch (e) {
            mount(message, errorBox(e));
          }
        },
      },
      "Delete",
    ),
  );

  mount(
    main,
    h("p.crumbs", {}, h("a", { href: "#/media" }, "Media library"), " / ", b.Title || mediaId),
    h("div.page-head", {}, h("h1#media-title", {}, b.Title || mediaId), h("span#media-status", {}, statusBadge(b.Status))),
    message,
    h("div.split", {}, h("div.player", {}, player(b, file)), h(
      "dl.facts",
      {},
      fact("MediaId", h("code", {}, info.MediaId)),
      fact("Type", b.MediaType),
      fact("InputURL", h("code.small", {}, b.InputURL)),
      fact("Tags", b.MediaTags || "—"),
      fact("Duration", fmtSeconds(file.Duration)),
      fact("Size", fmtBytes(file.FileSize)),
      fact("Format", file.FormatName || "—"),
      file.Width ? fact("Resolution", `${file.Width}×${file.Height}`) : null,
      file.Bitrate ? fact("Bitrate", `${Number(file.Bitrate).toFixed(0)} kbit/s`) : null,
      fact("Created", fmtTime(b.CreateTime)),
      fact("Modified", fmtTime(b.ModifiedTime)),
    )),
    streams(files),
    editForm,
  );

  // Probing runs in the background: look again until the media is ready or failed.
  if (b.Status === "Init" || b.Status === "Preparing") {
    setTimeout(() => {
      if (location.hash === `#/media/${mediaId}`) detail(main, mediaId).catch((e) => mount(message, errorBox(e)));
    }, POLL_MS);
  }
}

const fact = (name, value) => [h("dt", {}, name), h("dd", {}, value ?? "—")];

function player(b, file) {
  if (b.Status !== "Normal" || !file.FileUrl) {
    return h("div.cover.placeholder.big", {}, b.Status === "PrepareFail" ? "The file could not be read." : "Preparing…");
  }
  if (b.MediaType === "image") return h("img#player.big", { src: file.FileUrl, alt: b.Title || "" });
  const tag = b.MediaType === "audio" ? "audio" : "video";
  return h(`${tag}#player`, { src: file.FileUrl, controls: true, preload: "metadata", poster: b.CoverURL || undefined });
}

const VIDEO_COLUMNS = ["Index", "CodecName", "Profile", "Width", "Height", "PixFmt", "Fps", "Duration", "Bitrate"];
const AUDIO_COLUMNS = ["Index", "CodecName", "Profile", "SampleRate", "Channels", "ChannelLayout", "Duration", "Bitrate"];

function streams(files) {
  const video = files.flatMap((f) => f.VideoStreamInfoList || []);
  const audio = files.flatMap((f) => f.AudioStreamInfoList || []);
  if (!video.length && !audio.length) return null;
  const table = (id, title, rows, cols) =>
    rows.length
      ? [
          h("h3", {}, title),
          h(
            `table#${id}.list.compact`,
            {},
            h("thead", {}, h("tr", {}, cols.map((c) => h("th", {}, c)))),
            h("tbody", {}, rows.map((r) => h("tr", {}, cols.map((c) => h("td", {}, r[c] ?? "—"))))),
          ),
        ]
      : null;
  return h(
    "section.streams",
    {},
    h("h2", {}, "Streams"),
    table("video-streams", "Video", video, VIDEO_COLUMNS),
    table("audio-streams", "Audio", audio, AUDIO_COLUMNS),
  );
}
