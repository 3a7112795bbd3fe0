// The studio's single page: hash routes, live data over server-sent events, charts with uPlot.
// Data is only ever inserted as text (never as HTML), so nothing in a dataset or a job can script the page.
import uPlot from "uplot";

const main = document.getElementById("main");
const live = document.getElementById("live");

const state = { jobs: [], config: null };
let pageCleanup = [];

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const stateBadge = (s) => h("span", { class: `state ${s}`, "data-state": s }, s);
const fmt = (v, digits = 4) => (typeof v === "number" && isFinite(v) ? Number(v.toPrecision(digits)).toString() : "–");
const when = (t) => (t ? new Date(t).toLocaleTimeString() : "");
const terminal = (s) => ["Succeeded", "Failed", "Cancelled"].includes(s);

// An API's error as a person reads it: an RFC 7807 problem's detail, else the start of the body.
function errorText(status, body) {
  try {
    const p = JSON.parse(body);
    if (p.detail || p.title) return `${status}: ${p.detail ?? p.title}`;
    if (typeof p.error === "string") return `${status}: ${p.error}`;
  } catch { /* not JSON */ }
  return `${status}: ${body.slice(0, 400)}`;
}

async function api(path, options) {
  const r = await fetch(path, { credentials: "same-origin", ...options });
  if (!r.ok) throw new Error(errorText(r.status, await r.text()));
  return r.headers.get("content-type")?.includes("json") ? r.json() : r.text();
}

function onCleanup(f) {
  pageCleanup.push(f);
}

// --- live stream shared by every page --------------------------------------------------------------

const listeners = new Set();
function connect() {
  const es = new EventSource("/api/events");
  es.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  es.onerror = () => { live.textContent = "reconnecting"; live.classList.remove("on"); };
  es.addEventListener("jobs", (e) => {
    state.jobs = JSON.parse(e.data);
    listeners.forEach((l) => l("jobs", state.jobs));
  });
}

function listen(f) {
  listeners.add(f);
  onCleanup(() => listeners.delete(f));
}

// --- Jobs --------------------------------------------------------------------------------------------

function progressOf(j) {
  if (j.state === "Succeeded") return 1;
  if (j.totalSteps && j.step != null) return Math.min(1, j.step / j.totalSteps);
  return 0;
}

// The job view's epoch is the one in progress, counted from 0; people count epochs from 1 (as the best epoch is).
const epochOf = (j) => (j.epoch != null ? j.epoch + 1 : "");

function jobsPage() {
  if (!state.config?.jobs) {
    main.replaceChildren(h("h1", {}, "Jobs"), h("p", { class: "muted" }, "The studio has no jobs API to call (services:ingest:http:0 is not set)."));
    return;
  }
  const tbody = h("tbody");
  main.replaceChildren(h("h1", {}, "Jobs"),
    h("table", { id: "jobs" },
      h("thead", {}, h("tr", {}, ["Job", "State", "Task", "Dataset", "Progress", "Epoch", "Step", "Trainers", "Updated"].map((t) => h("th", {}, t)))),
      tbody));
  const render = () => {
    if (state.jobs.length === 0) {
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No jobs yet: submit one.")));
      return;
    }
    tbody.replaceChildren(...state.jobs.map((j) =>
      h("tr", { class: "clickable", "data-job": j.id, onclick: () => (location.hash = `#/jobs/${j.id}`) },
        h("td", {}, h("a", { href: `#/jobs/${j.id}` }, j.id.slice(0, 8))),
        h("td", {}, stateBadge(j.state)),
        h("td", {}, j.task),
        h("td", { class: "muted" }, j.source),
        h("td", {}, h("div", { class: "progress", title: `${Math.round(progressOf(j) * 100)}%` }, h("div", { style: `width:${progressOf(j) * 100}%` }))),
        h("td", { class: "num" }, epochOf(j)),
        h("td", { class: "num" }, j.step != null ? `${j.step}${j.totalSteps ? ` / ${j.totalSteps}` : ""}` : ""),
        h("td", { class: "num" }, j.trainers),
        h("td", {}, when(j.updatedAt)))));
  };
  listen((kind) => kind === "jobs" && render());
  render();
}

function chart(title, id, series, yLabel) {
  const box = h("div", { class: "card", id });
  const holder = h("div");
  const heading = h("h2", {}, title);
  box.append(heading, holder);
  let plot = null;
  const empty = h("div", { class: "muted" }, "no points yet");
  holder.append(empty);
  return {
    el: box,
    update(data) {
      const n = data[0].length;
      box.dataset.points = String(n);
      if (n === 0) return;
      empty.remove();
      if (!plot) {
        const width = Math.max(320, holder.clientWidth || 440);
        plot = new uPlot({
          width, height: 220,
          scales: { x: { time: false } },
          // Epochs are whole numbers: no ticks between them.
          axes: [{ label: series.xLabel, ...(series.xLabel === "epoch" ? { incrs: [1, 2, 5, 10, 20, 50, 100] } : {}) }, { label: yLabel, size: 60 }],
          series: [{ label: series.xLabel }, ...series.lines.map((l) => ({ label: l.label, stroke: l.color, width: 2, points: { show: n < 40 } }))],
        }, data, holder);
      } else {
        plot.setData(data);
      }
    },
    // Names what the chart shows once the job's task is known (the legend only until the first points).
    relabel(newTitle, lineLabel) {
      heading.textContent = newTitle;
      if (!plot) series.lines[0].label = lineLabel;
    },
    destroy() { plot?.destroy(); },
  };
}

// Points of one metric, by x (step or epoch), from rank 0 only (the other ranks report the same average).
function series(metrics, name, split, by) {
  const pts = metrics.filter((m) => m.name === name && m.split === split && (m.rank ?? 0) === 0).map((m) => [m[by], m.value]);
  const last = new Map(pts); // a resumed job reports some steps twice: the newer value wins
  const xs = [...last.keys()].sort((a, b) => a - b);
  return [xs, xs.map((x) => last.get(x))];
}

function heatColor(f) {
  // white to deep blue; text turns white on dark cells
  const l = 97 - 62 * f;
  return `hsl(218 75% ${l}%)`;
}

function confusionMatrix(report) {
  const cm = report.confusion_matrix;
  const classes = report.classes;
  const rowMax = cm.map((row) => Math.max(1, row.reduce((a, b) => a + b, 0)));
  return h("div", { class: "card", id: "confusion" },
    h("h2", {}, `Confusion matrix (test, ${report.count} images, accuracy ${fmt(report.accuracy * 100, 3)}%)`),
    h("div", { class: "muted" }, "rows: true class, columns: predicted; colour: share of the row"),
    h("table", { class: "cm" },
      h("thead", {}, h("tr", {}, h("th", {}, ""), classes.map((c) => h("th", { title: c }, c.length > 8 ? c.slice(0, 7) + "…" : c)))),
      h("tbody", {}, cm.map((row, i) => h("tr", {},
        h("th", { class: "rowh" }, classes[i]),
        row.map((v) => {
          const f = v / rowMax[i];
          return h("td", { style: `background:${heatColor(f)};color:${f > 0.55 ? "#fff" : "#111"}`, title: `${classes[i]} → ${v}` }, v);
        }))))));
}

function perClass(report) {
  return h("div", { class: "card", id: "per-class" }, h("h2", {}, "Per class (test)"),
    h("table", {},
      h("thead", {}, h("tr", {}, ["Class", "Precision", "Recall", "F1", "Support"].map((t, i) => h("th", { class: i ? "num" : "" }, t)))),
      h("tbody", {}, report.per_class.map((c) => h("tr", {},
        h("td", {}, c.class), h("td", { class: "num" }, fmt(c.precision, 3)), h("td", { class: "num" }, fmt(c.recall, 3)),
        h("td", { class: "num" }, fmt(c.f1, 3)), h("td", { class: "num" }, c.support)))),
      h("tfoot", {}, h("tr", {}, h("th", {}, "macro"), h("th", { class: "num" }, fmt(report.macro_precision, 3)),
        h("th", { class: "num" }, fmt(report.macro_recall, 3)), h("th", { class: "num" }, fmt(report.macro_f1, 3)), h("th", { class: "num" }, report.count)))));
}

// A detector's test report: mAP overall and AP per class.
function detectionReport(report) {
  return h("div", { class: "card", id: "detection" },
    h("h2", {}, `Detection (test, ${report.images} images): mAP@.5 ${fmt(report.map50, 3)}, mAP ${fmt(report.map, 3)}, mAP@.75 ${fmt(report.map75, 3)}`),
    h("table", {},
      h("thead", {}, h("tr", {}, ["Class", "AP", "AP50", "AP75", "Boxes"].map((t, i) => h("th", { class: i ? "num" : "" }, t)))),
      h("tbody", {}, report.per_class.map((c) => h("tr", {},
        h("td", {}, c.class), h("td", { class: "num" }, fmt(c.ap, 3)), h("td", { class: "num" }, fmt(c.ap50, 3)),
        h("td", { class: "num" }, fmt(c.ap75, 3)), h("td", { class: "num" }, c.ground_truths))))));
}

function jobPage(id) {
  const header = h("div");
  const loss = chart("Training loss", "loss-chart", { xLabel: "step", lines: [{ label: "loss", color: "#2456c7" }] }, "loss");
  const lr = chart("Learning rate", "lr-chart", { xLabel: "step", lines: [{ label: "lr", color: "#b54708" }] }, "lr");
  const acc = chart("Validation accuracy", "val-chart", { xLabel: "epoch", lines: [{ label: "val accuracy", color: "#18794e" }] }, "accuracy");
  const speed = chart("Throughput", "throughput-chart", { xLabel: "step", lines: [{ label: "samples/s", color: "#7a2ed6" }] }, "samples/s");
  const report = h("div", { class: "grid", id: "report" });
  const picture = h("div");
  const artifacts = h("div", { class: "card", id: "artifacts" }, h("h2", {}, "Artifacts"), h("div", { class: "muted" }, "none yet"));
  const dataset = h("div", { class: "card", id: "dataset" }, h("h2", {}, "Dataset report"), h("div", { class: "muted" }, "not stored yet"));
  const events = h("tbody");
  main.replaceChildren(h("h1", {}, `Job ${id}`), header,
    h("div", { class: "grid" }, loss.el, lr.el, acc.el, speed.el), report, picture,
    h("div", { class: "grid" }, artifacts, dataset),
    h("h2", {}, "Events"), h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "At"), h("th", {}, "Event"), h("th", {}, "Payload"))), events));
  onCleanup(() => [loss, lr, acc, speed].forEach((c) => c.destroy()));

  let shownReport = false, shownDataset = false, shownPictures = 0, lastArtifactsKey = "";
  const refreshArtifacts = async (job) => {
    const key = `${job.state}|${job.step}|${job.epoch}`;
    if (key === lastArtifactsKey) return;
    lastArtifactsKey = key;
    const list = await api(`/api/jobs/${id}/artifacts`);
    artifacts.replaceChildren(h("h2", {}, "Artifacts"), list.length === 0 ? h("div", { class: "muted" }, "none yet") :
      h("table", {}, h("tbody", {}, list.map((a) => h("tr", {},
        h("td", {}, h("a", { href: `/api/jobs/${id}/artifacts/${a.name.split("/").map(encodeURIComponent).join("/")}`, download: a.name.split("/").pop() }, a.name)),
        h("td", { class: "num" }, `${(a.length / 1024).toFixed(1)} KiB`))))));
    const names = new Set(list.map((a) => a.name));
    if (!shownDataset && names.has("dataset/report.json")) {
      shownDataset = true;
      const ds = await api(`/api/jobs/${id}/artifacts/dataset/report.json`);
      dataset.replaceChildren(h("h2", {}, "Dataset report"), h("pre", { class: "json" }, JSON.stringify(ds, null, 2)));
    }
    if (!shownReport && names.has("reports/test.json")) {
      shownReport = true;
      const r = await api(`/api/jobs/${id}/artifacts/reports/test.json`);
      report.replaceChildren(...(r.confusion_matrix ? [confusionMatrix(r), perClass(r)] : [detectionReport(r)]));
    }
    // The evaluator's own pictures of the test split, where it stores them: the matrix and the precision-recall curves.
    const pictures = [["reports/confusion_matrix.png", "confusion-png", "Confusion matrix (evaluator's picture)"],
      ["reports/pr_curves.png", "pr-png", "Precision-recall curves"]].filter(([name]) => names.has(name));
    if (pictures.length > shownPictures) {
      shownPictures = pictures.length;
      picture.replaceChildren(h("div", { class: "grid" }, pictures.map(([name, cardId, title]) => h("div", { class: "card", id: cardId }, h("h2", {}, title),
        h("img", { src: `/api/jobs/${id}/artifacts/${name}`, alt: title, style: "max-width:100%" })))));
    }
  };

  let retry = null;
  const tryRefresh = (j) => {
    clearTimeout(retry);
    refreshArtifacts(j).catch((e) => {
      console.warn(e);
      lastArtifactsKey = ""; // the API may be restarting: try again
      retry = setTimeout(() => tryRefresh(j), 3000);
    });
  };
  onCleanup(() => clearTimeout(retry));

  const render = (detail) => {
    const j = detail.job, m = detail.metrics;
    const test = Object.fromEntries(m.filter((x) => x.split === "test").map((x) => [x.name, x.value]));
    header.replaceChildren(h("div", { class: "card" }, h("dl", { class: "kv" },
      h("dt", {}, "State"), h("dd", { id: "job-state" }, stateBadge(j.state), j.reason ? h("span", { class: "error" }, `  ${j.reason}`) : null),
      h("dt", {}, "Task"), h("dd", {}, j.task),
      h("dt", {}, "Dataset"), h("dd", {}, j.source),
      h("dt", {}, "Progress"), h("dd", {}, `epoch ${epochOf(j) || "–"}, step ${j.step ?? "–"}${j.totalSteps ? ` of ${j.totalSteps}` : ""}`,
        h("div", { class: "progress" }, h("div", { style: `width:${progressOf(j) * 100}%` }))),
      h("dt", {}, "Trainers"), h("dd", {}, j.trainers),
      h("dt", {}, "Best epoch"), h("dd", {}, j.bestEpoch ?? "–"),
      h("dt", {}, "Test"), h("dd", {}, "accuracy" in test ? `accuracy ${fmt(test.accuracy * 100, 3)}%, macro F1 ${fmt(test.macro_f1, 3)}`
        : "map50" in test ? `mAP@.5 ${fmt(test.map50, 3)}, mAP ${fmt(test.map, 3)}` : "–"),
      h("dt", {}, ""), h("dd", {}, terminal(j.state) ? "" : h("button", { onclick: () => api(`/api/jobs/${id}/cancel`, { method: "POST" }).catch(alert) }, "Cancel job")))));
    loss.update(series(m, "loss", "train", "step"));
    lr.update(series(m, "lr", "train", "step"));
    // A detector is validated by mAP@.5 (its best-model metric by default), a classifier by accuracy.
    if (j.task === "detect") acc.relabel("Validation mAP@.5", "val mAP@.5");
    acc.update(series(m, j.task === "detect" ? "map50" : "accuracy", "val", "epoch"));
    speed.update(series(m, "samples_per_second", "train", "step"));
    events.replaceChildren(...detail.events.slice(-200).reverse().filter((e) => e.kind !== "TrainingProgress").map((e) =>
      h("tr", {}, h("td", {}, when(e.at)), h("td", {}, e.kind), h("td", { class: "muted" }, e.payload.length > 240 ? e.payload.slice(0, 240) + "…" : e.payload))));
    tryRefresh(j);
  };

  const es = new EventSource(`/api/jobs/${id}/events`);
  es.addEventListener("job", (e) => render(JSON.parse(e.data)));
  onCleanup(() => es.close());
}

// --- Sweeps ------------------------------------------------------------------------------------------

// A searched value as the trials table shows it: numbers to 4 digits, words as they are.
function valueText(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") return fmt(v, 4);
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

const describeValues = (keys, values) => keys.map((k) => `${k}=${valueText(values[k])}`).join("  ");
const metricLabel = (s) => `${s.metric} (${s.mode === "min" ? "lower" : "higher"} is better)`;
const searchLabel = (s) => `${s.search}${s.asha ? " + ASHA" : ""}`;
// One colour per trial, far apart for neighbours (golden-angle hues), the same in the chart and the table.
const trialColor = (number) => `hsl(${Math.round((number * 137.508) % 360)} 62% 42%)`;

function cancelSweep(id, button) {
  button.disabled = true;
  api(`/api/sweeps/${id}/cancel`, { method: "POST" }).catch((e) => { alert(e.message ?? e); button.disabled = false; });
}

function sweepsPage() {
  if (!state.config?.jobs) {
    main.replaceChildren(h("h1", {}, "Sweeps"), h("p", { class: "muted" }, "The studio has no jobs API to call (services:ingest:http:0 is not set)."));
    return;
  }
  const tbody = h("tbody");
  const failure = h("div", { class: "error" });
  main.replaceChildren(h("h1", {}, "Sweeps"),
    h("p", { class: "muted" }, "Hyper-parameter sweeps: each trial is a job; the best trial's job holds the sweep's model. Start one from Submit with a sweep file."),
    failure,
    h("table", { id: "sweeps" },
      h("thead", {}, h("tr", {}, ["Sweep", "State", "Task", "Dataset", "Metric", "Search", "Trials done", "Stopped by ASHA", "Best", "Updated"]
        .map((t, i) => h("th", { class: i >= 6 && i <= 8 ? "num" : "" }, t)))),
      tbody));
  const render = (sweeps) => {
    if (sweeps.length === 0) {
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: 10, class: "muted" }, "No sweeps yet: submit one with a sweep file.")));
      return;
    }
    tbody.replaceChildren(...sweeps.map((s) =>
      h("tr", { class: "clickable", "data-sweep": s.id, onclick: () => (location.hash = `#/sweeps/${s.id}`) },
        h("td", {}, h("a", { href: `#/sweeps/${s.id}` }, s.id.slice(0, 8))),
        h("td", {}, stateBadge(s.state)),
        h("td", {}, s.task),
        h("td", { class: "muted" }, s.source),
        h("td", {}, `${s.metric} (${s.mode})`),
        h("td", {}, searchLabel(s)),
        h("td", { class: "num" }, `${s.finished} / ${s.trials}`,
          h("div", { class: "progress" }, h("div", { style: `width:${s.trials ? (100 * s.finished) / s.trials : 0}%` }))),
        h("td", { class: "num" }, s.asha ? s.stoppedEarly : "–"),
        h("td", { class: "num" }, s.bestValue != null ? h("span", {}, fmt(s.bestValue), h("span", { class: "muted" }, ` #${s.bestTrial}`)) : "–"),
        h("td", {}, when(s.updatedAt)))));
  };
  const load = async () => {
    try {
      render(await api("/api/sweeps"));
      failure.textContent = "";
    } catch (e) {
      failure.textContent = String(e.message ?? e);
    }
  };
  load();
  const timer = setInterval(load, 3000);
  onCleanup(() => clearInterval(timer));
}

// The validation metric against epoch, a line per trial: a trial ASHA stopped ends early (and is dashed) on an
// x axis as long as the longest trial's plan, the best trial drawn thickest.
function sweepCurves() {
  const holder = h("div");
  const empty = h("div", { class: "muted" }, "no epoch validated yet");
  const heading = h("h2", {}, "Validation metric per epoch");
  const box = h("div", { class: "card", id: "sweep-curves" }, heading, holder, empty);
  let plot = null, key = "";
  const range = { start: 1, end: 2 };
  return {
    el: box,
    update(detail) {
      const { sweep, trials } = detail;
      heading.textContent = `Validation ${sweep.metric} per epoch, one line per trial`;
      const xs = [...new Set(trials.flatMap((t) => t.curve.map((p) => p.epoch)))].sort((a, b) => a - b);
      const points = trials.reduce((n, t) => n + t.curve.length, 0);
      box.dataset.points = String(points);
      box.dataset.lines = String(trials.filter((t) => t.curve.length > 0).length);
      if (points === 0) return;
      empty.remove();
      const data = [xs, ...trials.map((t) => {
        const byEpoch = new Map(t.curve.map((p) => [p.epoch, p.value]));
        return xs.map((x) => byEpoch.get(x) ?? null);
      })];
      const planned = Math.max(...trials.map((t) => t.epochs), xs[xs.length - 1]);
      range.start = Math.min(1, xs[0]);
      range.end = Math.max(planned, range.start + 1);
      const styleKey = `${planned}|${sweep.bestTrial}|` + trials.map((t) => `${t.number}${t.stoppedEarly ? "s" : ""}`).join(",");
      if (!plot || styleKey !== key) {
        plot?.destroy();
        key = styleKey;
        plot = new uPlot({
          width: Math.max(320, holder.clientWidth || 560), height: 280,
          legend: { show: trials.length <= 16 },
          scales: { x: { time: false, range: () => [range.start, range.end] } },
          axes: [{ label: "epoch", incrs: [1, 2, 5, 10, 20, 50, 100] }, { label: sweep.metric, size: 60 }],
          series: [{ label: "epoch" }, ...trials.map((t) => {
            const best = t.number === sweep.bestTrial;
            return {
              label: `#${t.number}${best ? " best" : ""}${t.stoppedEarly ? " stopped" : ""}`,
              stroke: trialColor(t.number),
              width: best ? 3.5 : 1.5,
              dash: t.stoppedEarly ? [6, 4] : undefined,
              points: { show: xs.length < 40, size: best ? 7 : 5 },
            };
          })],
        }, data, holder);
      } else {
        plot.setData(data);
      }
    },
    destroy() { plot?.destroy(); },
  };
}

// --- the scatter picture: one small SVG per searched key, the trial's best validation value against the key's value.

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Round steps (1, 2 or 5 times a power of ten) covering [min, max] in about `count` ticks.
function linearTicks(min, max, count = 5) {
  const span = max - min;
  let step = 10 ** Math.floor(Math.log10(span / count));
  const err = (count / span) * step;
  if (err <= 0.15) step *= 10;
  else if (err <= 0.35) step *= 5;
  else if (err <= 0.75) step *= 2;
  const ticks = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

// Powers of ten inside [min, max]; with fewer than three, their 2 and 5 multiples too.
function logTicks(min, max) {
  const ticks = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) ticks.push(Number((m * 10 ** e).toPrecision(12)));
  }
  const inside = ticks.filter((t) => t >= min * (1 - 1e-9) && t <= max * (1 + 1e-9));
  const decades = inside.filter((t) => Number(t.toExponential().split("e")[0]) === 1);
  return decades.length >= 3 ? decades : inside;
}

// A numeric axis over the values given: linear, or logarithmic when they are all positive and span more than two decades.
function numericScale(values, from, to) {
  let min = Math.min(...values), max = Math.max(...values);
  const log = min > 0 && max / min > 100;
  if (log) {
    const [a, b] = [Math.log10(min), Math.log10(max)];
    const pad = (b - a) * 0.06;
    const lo = a - pad, hi = b + pad;
    return { log, ticks: logTicks(10 ** lo, 10 ** hi), at: (v) => from + ((Math.log10(v) - lo) / (hi - lo)) * (to - from) };
  }
  if (min === max) {
    const d = Math.abs(min) * 0.1 || 1;
    min -= d;
    max += d;
  } else {
    const pad = (max - min) * 0.06;
    min -= pad;
    max += pad;
  }
  return { log, ticks: linearTicks(min, max), at: (v) => from + ((v - min) / (max - min)) * (to - from) };
}

const tickText = (v) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(0) : String(Number(v.toPrecision(3))));

function scatterPanel(detail, key) {
  const { sweep, trials } = detail;
  const W = 320, H = 230, L = 56, R = 14, T = 12, B = 42;
  const shown = trials.filter((t) => typeof t.bestValue === "number" && isFinite(t.bestValue) && t.values[key] !== undefined);
  const numeric = shown.every((t) => typeof t.values[key] === "number");
  const ys = numericScale(shown.map((t) => t.bestValue), H - B, T);
  let xAt, xTicks, xLog = false;
  if (numeric) {
    const xs = numericScale(shown.map((t) => t.values[key]), L, W - R);
    xAt = (v) => xs.at(v);
    xLog = xs.log;
    xTicks = xs.ticks.map((v) => [xs.at(v), tickText(v)]);
  } else {
    // Choices of words (or lists): one column per choice, in the order the trials first took them.
    const categories = [...new Set(trials.map((t) => JSON.stringify(t.values[key] ?? null)))];
    const slot = (W - L - R) / categories.length;
    xAt = (v) => L + slot * (categories.indexOf(JSON.stringify(v ?? null)) + 0.5);
    xTicks = categories.map((c) => [xAt(JSON.parse(c)), valueText(JSON.parse(c))]);
  }
  const plot = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "scatter", "data-key": key, "data-points": shown.length, "data-log": xLog });
  // Grid and axes.
  for (const v of ys.ticks) {
    const y = ys.at(v);
    plot.append(svg("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid" }),
      svg("text", { x: L - 6, y: y + 4, "text-anchor": "end", class: "tick" }, tickText(v)));
  }
  for (const [x, text] of xTicks) {
    plot.append(svg("line", { x1: x, x2: x, y1: T, y2: H - B, class: "grid" }),
      svg("text", { x, y: H - B + 15, "text-anchor": "middle", class: "tick" }, text));
  }
  plot.append(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }),
    svg("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }),
    svg("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle", class: "label" }, `${key}${xLog ? " (log)" : ""}`),
    svg("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle", class: "label", transform: `rotate(-90 12 ${(T + H - B) / 2})` }, `best val ${sweep.metric}`));
  // The best trial last, so nothing covers it.
  const ordered = [...shown].sort((a, b) => (a.number === sweep.bestTrial) - (b.number === sweep.bestTrial));
  for (const t of ordered) {
    const best = t.number === sweep.bestTrial;
    const x = xAt(t.values[key]), y = ys.at(t.bestValue);
    const title = svg("title", {}, `trial #${t.number}${best ? " (best)" : ""}: ${describeValues(detail.keys, t.values)} → ${sweep.metric} ${fmt(t.bestValue)}` +
      (t.stoppedEarly ? ` — stopped by ASHA after ${t.epochsDone} of ${t.epochs} epochs` : ""));
    const go = () => (location.hash = `#/jobs/${t.jobId}`);
    plot.append(best
      ? svg("g", { class: "point best", "data-trial": t.number, onclick: go },
          svg("circle", { cx: x, cy: y, r: 9, class: "ring" }), svg("circle", { cx: x, cy: y, r: 5 }), title)
      : svg("circle", { cx: x, cy: y, r: 4.5, class: `point${t.stoppedEarly ? " stopped" : ""}`, "data-trial": t.number, onclick: go }, title));
  }
  return h("figure", { class: "scatter-panel" }, plot);
}

function scatterPicture(detail) {
  const shown = detail.trials.filter((t) => typeof t.bestValue === "number" && isFinite(t.bestValue));
  return h("div", { class: "card", id: "sweep-scatter", "data-points": shown.length },
    h("h2", {}, `Best validation ${detail.sweep.metric} against each searched key`),
    shown.length === 0 ? h("div", { class: "muted" }, "no trial validated yet") : [
      h("div", { class: "muted" }, "one dot per trial; ", h("span", { class: "legend-best" }, "◉ best trial"), ", hollow: stopped by ASHA; log axis where a key's values span more than two decades"),
      h("div", { class: "scatter-grid" }, detail.keys.map((k) => scatterPanel(detail, k))),
    ]);
}

function bestTrialBlock(detail) {
  const best = detail.best, sweep = detail.sweep;
  if (!best) {
    return h("div", { class: "card", id: "best-trial" }, h("h2", {}, "Best trial"),
      h("div", { class: "muted" }, terminal(sweep.state) ? "no trial reported a validation value" : "none yet: no trial has validated an epoch"));
  }
  const trial = detail.trials.find((t) => t.number === best.number);
  return h("div", { class: "card best", id: "best-trial", "data-trial": best.number, "data-job": best.jobId },
    h("h2", {}, `Best trial: #${best.number}${terminal(sweep.state) ? " — the sweep's result" : " so far"}`),
    h("dl", { class: "kv" },
      h("dt", {}, `Validation ${sweep.metric}`), h("dd", { class: "best-value" }, fmt(best.value), trial?.bestEpoch ? h("span", { class: "muted" }, ` at epoch ${trial.bestEpoch}`) : null),
      detail.keys.flatMap((k) => [h("dt", {}, k), h("dd", {}, valueText(best.values[k]))]),
      trial?.test ? [h("dt", {}, "Test"), h("dd", {}, Object.entries(trial.test).map(([k, v]) => `${k} ${fmt(v)}`).join(", "))] : null,
      h("dt", {}, "Model"), h("dd", {}, h("a", { href: `#/jobs/${best.jobId}`, id: "best-job" }, `job ${best.jobId.slice(0, 8)}`),
        h("span", { class: "muted" }, " — its model and artifacts are the sweep's result"))),
    h("details", {}, h("summary", {}, "Recipe"), h("pre", { class: "json" }, best.recipeJson)));
}

function trialsTable(detail) {
  const { sweep, keys, trials } = detail;
  const anyTest = trials.some((t) => t.test);
  const testValue = (t) => t.test?.[sweep.metric] ?? t.test?.accuracy ?? t.test?.map50;
  const head = ["#", ...keys, "State", "Epochs", `Best val ${sweep.metric}`, ...(anyTest ? ["Test"] : []), ...(sweep.asha ? ["ASHA"] : [])];
  const numeric = (k) => trials.every((t) => typeof t.values[k] === "number" || t.values[k] == null);
  return h("table", { id: "trials", class: "trials" },
    h("thead", {}, h("tr", {}, head.map((t, i) => h("th", { class: i === 0 || (i <= keys.length && numeric(keys[i - 1])) ? "num" : "" }, t)))),
    h("tbody", {}, trials.map((t) => {
      const best = t.number === sweep.bestTrial;
      return h("tr", { class: `clickable${best ? " best" : ""}${t.stoppedEarly ? " stopped" : ""}`, "data-trial": t.number, "data-job": t.jobId,
        onclick: () => (location.hash = `#/jobs/${t.jobId}`) },
        h("td", { class: "num" }, h("span", { class: "swatch", style: `background:${trialColor(t.number)}` }),
          h("a", { href: `#/jobs/${t.jobId}` }, `#${t.number}`), best ? h("span", { class: "best-mark", title: "the best trial" }, " ★") : null),
        keys.map((k) => h("td", { class: typeof t.values[k] === "number" ? "num" : "" }, valueText(t.values[k]))),
        h("td", {}, stateBadge(t.state)),
        h("td", { class: "num" }, `${t.epochsDone} / ${t.epochs}`,
          h("div", { class: "progress" }, h("div", { style: `width:${t.epochs ? (100 * t.epochsDone) / t.epochs : 0}%` }))),
        h("td", { class: "num" }, t.bestValue != null ? fmt(t.bestValue) : "–", t.bestEpoch ? h("span", { class: "muted" }, ` @${t.bestEpoch}`) : null),
        anyTest ? h("td", { class: "num" }, t.test ? fmt(testValue(t)) : "–") : null,
        sweep.asha ? h("td", { class: "asha" }, t.stoppedEarly
          ? h("span", { class: "stopped-by-asha", title: t.stopReason ?? "" }, "stopped", h("div", { class: "reason" }, t.stopReason ?? ""))
          : "") : null);
    })));
}

function sweepPage(id) {
  const header = h("div");
  const best = h("div");
  const curves = sweepCurves();
  const scatter = h("div");
  const trials = h("div");
  const events = h("tbody");
  const failure = h("div", { class: "error" });
  main.replaceChildren(h("h1", {}, `Sweep ${id}`), failure, header,
    h("div", { class: "grid" }, best, curves.el),
    h("h2", {}, "Trials"), trials, scatter,
    h("h2", {}, "Events"), h("table", { id: "sweep-events" }, h("thead", {}, h("tr", {}, h("th", {}, "At"), h("th", {}, "Event"), h("th", {}, "What happened"))), events));
  onCleanup(() => curves.destroy());

  const render = (detail) => {
    const s = detail.sweep;
    failure.textContent = "";
    const cancel = h("button", { id: "cancel-sweep", onclick: () => cancelSweep(id, cancel) }, "Cancel sweep");
    header.replaceChildren(h("div", { class: "card" }, h("dl", { class: "kv" },
      h("dt", {}, "State"), h("dd", { id: "sweep-state" }, stateBadge(s.state), s.reason ? h("span", { class: s.state === "Failed" ? "error" : "muted" }, `  ${s.reason}`) : null),
      h("dt", {}, "Task"), h("dd", {}, s.task),
      h("dt", {}, "Dataset"), h("dd", {}, s.source),
      h("dt", {}, "Ranked by"), h("dd", {}, `validation ${metricLabel(s)}`),
      h("dt", {}, "Search"), h("dd", {}, `${searchLabel(s)} over ${detail.keys.join(", ")}`),
      h("dt", {}, "Trials"), h("dd", {}, `${s.finished} of ${s.trials} finished${s.asha ? `, ${s.stoppedEarly} stopped early by ASHA` : ""}`,
        h("div", { class: "progress" }, h("div", { style: `width:${s.trials ? (100 * s.finished) / s.trials : 0}%` }))),
      h("dt", {}, ""), h("dd", {}, s.state === "Running" ? cancel : ""))));
    // A redraw keeps the recipe open if it was.
    const recipeOpen = best.querySelector("details")?.open;
    best.replaceChildren(bestTrialBlock(detail));
    if (recipeOpen) best.querySelector("details").open = true;
    trials.replaceChildren(trialsTable(detail));
    curves.update(detail);
    scatter.replaceChildren(scatterPicture(detail));
    events.replaceChildren(...detail.events.slice().reverse().map((e) =>
      h("tr", { "data-kind": e.kind }, h("td", {}, when(e.at)), h("td", {}, e.kind), h("td", { class: "muted" }, e.text))));
  };

  // The first answer directly, so that an unknown sweep says so; then every change through the studio's stream (until
  // the page is left, which may happen before the first answer).
  let es = null, left = false;
  onCleanup(() => { left = true; es?.close(); });
  api(`/api/sweeps/${id}`).then((detail) => {
    if (left) return;
    render(detail);
    es = new EventSource(`/api/sweeps/${id}/events`);
    es.addEventListener("sweep", (e) => render(JSON.parse(e.data)));
  }).catch((e) => { failure.textContent = String(e.message ?? e); });
}

// --- Submit ------------------------------------------------------------------------------------------

const defaultRecipe = `# a quick run: a small CNN, one epoch
model: { name: small_cnn, width: 8 }
epochs: 1
batch_size: 64
`;

// Shown in the empty sweep box: what a sweep file holds (SweepSpec's keys).
const exampleSweep = `# optional: a sweep runs several trials of the recipe above, each with other values, e.g.
# trials: 4
# search: random            # or grid (every combination of choices)
# scheduler: asha           # stop weak trials early
# asha: { min_epochs: 1, reduction: 2 }
# metric: accuracy
# space:
#   optimizer.lr: { log_uniform: [0.001, 0.1] }
#   model.width: { choice: [4, 8, 16] }`;

const FOLDER = "#folder", UPLOAD = "#upload";

// Streams the archive to the ingest service's store through the studio; resolves to its answer ({ source, ... }).
function uploadArchive(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/uploads?name=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve(JSON.parse(xhr.responseText)) : reject(new Error(errorText(xhr.status, xhr.responseText))));
    xhr.onerror = () => reject(new Error(`${file.name}: the upload did not reach the studio`));
    xhr.send(file);
  });
}

function submitPage() {
  if (!state.config?.jobs) {
    main.replaceChildren(h("h1", {}, "Submit"), h("p", { class: "muted" }, "The studio has no jobs API to call (services:ingest:http:0 is not set)."));
    return;
  }
  const datasets = state.config.datasets;
  const source = h("select", { id: "source" },
    datasets.map((d) => h("option", { value: d.path }, `${d.name} (${d.path})`)),
    h("option", { value: UPLOAD }, "An archive from this computer…"),
    h("option", { value: FOLDER }, "A folder on the ingest service's machine…"));
  const path = h("input", { type: "text", id: "path", placeholder: "/absolute/path/to/a/dataset" });
  const pathRow = h("div", {}, h("label", { for: "path" }, "Folder"), path);
  const file = h("input", { type: "file", id: "archive", accept: ".zip,.tar,.tgz,.gz" });
  const uploaded = h("span", { class: "muted", id: "upload-progress" });
  const fileRow = h("div", {}, h("label", { for: "archive" }, "Archive (.zip, .tar, .tar.gz, .tgz)"), file, " ", uploaded);
  const sync = () => {
    pathRow.style.display = source.value === FOLDER ? "" : "none";
    fileRow.style.display = source.value === UPLOAD ? "" : "none";
  };
  source.addEventListener("change", sync);
  const task = h("select", { id: "task" }, h("option", { value: "classify" }, "classify"), h("option", { value: "detect" }, "detect"),
    h("option", { value: "auto" }, "as the dataset's format says (detect for COCO, YOLO, PaliGemma)"));
  const recipe = h("textarea", { id: "recipe" }, defaultRecipe);
  const trainers = h("input", { type: "number", id: "trainers", min: 1, max: 64, value: 1 });
  const sweep = h("textarea", { id: "sweep", placeholder: exampleSweep });
  const error = h("div", { class: "error", id: "submit-error" });
  const button = h("button", { type: "submit", id: "submit" }, "Submit job");
  const trainersLabel = h("label", { for: "trainers" }, "Trainers");
  // A sweep file makes the submission a sweep: the button and the trainers' label say so.
  const isSweep = () => sweep.value.trim() !== "";
  sweep.addEventListener("input", () => {
    button.textContent = isSweep() ? "Submit sweep" : "Submit job";
    trainersLabel.textContent = isSweep() ? "Trainers (per trial)" : "Trainers";
  });
  const form = h("form", { id: "submit-form", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      const request = { task: task.value, recipeYaml: recipe.value, trainers: Number(trainers.value) };
      if (source.value === UPLOAD) {
        const archive = file.files[0];
        if (!archive) throw new Error("Choose an archive to upload.");
        uploaded.textContent = "uploading…";
        const answer = await uploadArchive(archive, (f) => { uploaded.textContent = `uploading ${Math.round(f * 100)}%`; });
        uploaded.textContent = `uploaded ${(answer.bytes / 1048576).toFixed(1)} MiB`;
        request.source = answer.source;
      } else {
        request.path = source.value === FOLDER ? path.value.trim() : source.value;
      }
      if (isSweep()) {
        request.sweepYaml = sweep.value;
        // A sweep's task is known before its dataset is read: "auto" leaves it to the recipe's task key.
        if (request.task === "auto") delete request.task;
        // A sweep with its own top-level recipe: map starts its trials from that; the API takes the recipe once.
        if (/^recipe[ \t]*:/m.test(sweep.value)) delete request.recipeYaml;
        const created = await api("/api/sweeps", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request) });
        location.hash = `#/sweeps/${created.id}`;
      } else {
        const job = await api("/api/jobs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request) });
        location.hash = `#/jobs/${job.id}`;
      }
    } catch (err) {
      error.textContent = String(err.message ?? err);
    } finally {
      button.disabled = false;
    }
  } },
    h("label", { for: "source" }, "Dataset"), source, pathRow, fileRow,
    h("p", { class: "muted" }, "Any layout the ingest service reads: ImageFolder, COCO, YOLO, PaliGemma JSONL or IDX; an archive is uploaded to the system's store first."),
    h("label", { for: "task" }, "Task"), task,
    h("label", { for: "recipe" }, "Recipe (YAML; any key not given takes the task's default)"), recipe,
    h("label", { for: "sweep" }, "Sweep (optional, YAML): several trials of the recipe, each with other values of the keys in space"), sweep,
    h("p", { class: "muted" }, "Every trial starts from the recipe above (or from the sweep's own recipe: map, which then replaces it) and is a job of its own; the best trial's job is the sweep's result."),
    trainersLabel, trainers,
    h("div", {}, button), error);
  main.replaceChildren(h("h1", {}, "Submit a job or a sweep"), form);
  sync();
}

// --- Metrics -----------------------------------------------------------------------------------------

const palette = ["#2456c7", "#b54708", "#18794e", "#7a2ed6", "#c2185b", "#00838f", "#6d4c41", "#5f6b7a"];

function unitValue(v, unit) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  if (unit === "bytes") return `${(v / 1048576).toFixed(1)} MiB`;
  if (unit === "cores" || unit === "ratio") return `${(v * 100).toFixed(1)} %`;
  if (unit === "1/s") return `${v < 10 ? v.toFixed(2) : v.toFixed(0)} /s`;
  if (unit === "messages") return String(Math.round(v));
  return fmt(v);
}

// One panel: a time chart of the window (a line per series) and the latest value of each series beside its colour.
function metricPanel(id) {
  const heading = h("h2");
  const holder = h("div");
  const latest = h("tbody");
  const note = h("div", { class: "muted" });
  const card = h("div", { class: "card", id: `metric-${id}` }, heading, note, holder, h("table", { class: "latest" }, latest));
  let plot = null, key = "";
  const range = { start: 0, end: 1 };
  return {
    el: card,
    update(p, start, end) {
      heading.textContent = p.title;
      heading.title = p.query;
      card.dataset.series = String(p.series.length);
      if (p.error || p.series.length === 0) {
        plot?.destroy();
        plot = null;
        key = "";
        note.className = p.error ? "error" : "muted";
        note.textContent = p.error ?? p.empty;
        latest.replaceChildren();
        card.dataset.points = "0";
        return;
      }
      note.textContent = "";
      const xs = [...new Set(p.series.flatMap((s) => s.points.map((pt) => pt[0])))].sort((a, b) => a - b);
      const data = [xs, ...p.series.map((s) => {
        const byTime = new Map(s.points.map((pt) => [pt[0], pt[1]]));
        return xs.map((x) => byTime.get(x) ?? null);
      })];
      card.dataset.points = String(xs.length);
      const labels = p.series.map((s) => s.label).join("|");
      if (!plot || labels !== key) {
        plot?.destroy();
        key = labels;
        const counts = p.unit === "messages";
        plot = new uPlot({
          width: Math.max(320, holder.clientWidth || 440), height: 200,
          legend: { show: false },
          // The whole window, however few points there are yet; counts on whole-number ticks from 0.
          scales: { x: { range: () => [range.start, range.end] }, y: counts ? { range: (u, min, max) => [0, Math.max(2, Math.ceil(max * 1.2))] } : {} },
          axes: [{}, { size: 80, values: (u, vals) => vals.map((v) => unitValue(v, p.unit)), ...(counts ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] } : {}) }],
          series: [{}, ...p.series.map((s, i) => ({ label: s.label, stroke: palette[i % palette.length], width: 2, points: { size: 4 } }))],
        }, data, holder);
      }
      range.start = start;
      range.end = end;
      plot.setData(data);
      latest.replaceChildren(...p.series.map((s, i) => {
        const last = s.points[s.points.length - 1];
        return h("tr", { "data-series": s.label, "data-value": last[1] },
          h("td", {}, h("span", { style: `color:${palette[i % palette.length]}` }, "■ "), s.label),
          h("td", { class: "num" }, unitValue(last[1], p.unit)),
          h("td", { class: "muted" }, when(last[0] * 1000)));
      }));
    },
    destroy() { plot?.destroy(); },
  };
}

function metricsPage() {
  if (!state.config?.metrics) {
    main.replaceChildren(h("h1", {}, "Metrics"), h("p", { class: "muted" }, "The studio has no Prometheus to ask (services:prometheus:http:0 is not set)."));
    return;
  }
  const grid = h("div", { class: "grid", id: "metrics" });
  const failure = h("div", { class: "error" });
  main.replaceChildren(h("h1", {}, "Queues and trainers"),
    h("p", { class: "muted" }, "From the run's Prometheus: the last 15 minutes, refreshed every 5 s. Service logs, traces and resource metrics are in the Aspire dashboard."), failure, grid);
  const panels = new Map();
  onCleanup(() => panels.forEach((p) => p.destroy()));
  const load = async () => {
    try {
      const answer = await api("/api/metrics");
      failure.textContent = "";
      // Every card is in the grid before any chart takes its width from it.
      for (const p of answer.panels) {
        if (panels.has(p.id)) continue;
        const panel = metricPanel(p.id);
        panels.set(p.id, panel);
        grid.append(panel.el);
      }
      for (const p of answer.panels) panels.get(p.id).update(p, answer.start, answer.end);
    } catch (e) {
      failure.textContent = String(e.message ?? e);
    }
  };
  load();
  const timer = setInterval(load, 5000);
  onCleanup(() => clearInterval(timer));
}

// --- routing -----------------------------------------------------------------------------------------

function route() {
  pageCleanup.forEach((f) => f());
  pageCleanup = [];
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  const page = parts[0] || "jobs";
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === page));
  if (page === "jobs" && parts[1]) jobPage(parts[1]);
  else if (page === "jobs") jobsPage();
  else if (page === "sweeps" && parts[1]) sweepPage(parts[1]);
  else if (page === "sweeps") sweepsPage();
  else if (page === "submit") submitPage();
  else if (page === "metrics") metricsPage();
  else jobsPage();
}

(async () => {
  state.config = await api("/api/config");
  connect();
  window.addEventListener("hashchange", route);
  route();
})();
