// sluice ui: one page app over the JSON API (/api/...). No framework; charts by uPlot.
"use strict";

const mainElement = document.getElementById("main");
// The page's content (what is null or undefined is left out).
const main = { replaceChildren: (...nodes) => mainElement.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined)) };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

async function api(path) {
  const early = window.sluiceEarly && window.sluiceEarly[path];
  if (early) delete window.sluiceEarly[path];
  const response = await (early || fetch(path));
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: ${response.status} ${text.slice(0, 200)}`);
  }
  if (!response.ok) {
    const error = new Error(body.error || `${response.status}`);
    error.status = response.status;
    throw error;
  }
  return { body, total: Number(response.headers.get("X-Total-Count") || 0) };
}

function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
  }
  return typeof v === "string" ? v : JSON.stringify(v);
}

function when(iso) {
  return iso ? iso.slice(0, 10) + " " + iso.slice(11, 19) : "";
}

function seconds(a, b) {
  if (!a) return null;
  return ((b ? Date.parse(b) : Date.now()) - Date.parse(a)) / 1000;
}

function duration(s) {
  if (s === null) return "";
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}

// A table with its headings and rows, or `empty` (a sentence) when there are no rows.
function listTable(id, headings, rows, empty) {
  if (empty && rows.length === 0) return el("p", { class: "muted" }, empty);
  return el("table", { id }, el("tr", {}, headings.map((h) => el("th", {}, h))), rows);
}

function statusCell(status) {
  return el("td", { class: "status-" + status }, status);
}

function fail(error) {
  main.replaceChildren(el("p", { class: "error" }, error.message));
}

// ---- charts ----------------------------------------------------------------------------

const palette = ["#2459c9", "#d9480f", "#2b8a3e", "#ae3ec9", "#e8590c", "#0c8599", "#5c940d", "#c2255c"];

// uPlot, loaded when a page first draws a chart (the runs table draws none): a chart page
// asks for its data first and has uPlot's 50 KB evaluated while the answers are on their way.
let uplotLoaded = null;
function uplot() {
  if (!uplotLoaded) {
    uplotLoaded = new Promise((resolve, reject) => {
      document.head.append(el("script", { src: "/assets/uplot.js", onload: resolve, onerror: () => reject(new Error("cannot load /assets/uplot.js")) }));
    });
  }
  return uplotLoaded;
}

// An axis tick: short, exponents only for the very small and very large.
function tick(v) {
  if (v === null || v === undefined) return "";
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-4 || a >= 1e7) ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

const wholeIncrements = [1, 2, 5].flatMap((m) => [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8].map((p) => m * p)).sort((a, b) => a - b);

// A line chart of series [{label, x: [], y: []}] on a shared x axis (their union); uplot()
// has loaded.
function lineChart(target, title, series, options = {}) {
  let data;
  if (series.every((s) => s.x === series[0].x)) {
    // One x for all (a run's series and its smoothed line): no union to make.
    data = [series[0].x, ...series.map((s) => s.y)];
  } else {
    const xs = Array.from(new Set(series.flatMap((s) => s.x))).sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    data = [xs];
    for (const s of series) {
      const column = new Array(xs.length).fill(null);
      s.x.forEach((x, i) => (column[index.get(x)] = s.y[i]));
      data.push(column);
    }
  }
  const width = options.width || Math.max(300, target.clientWidth - 16 || 440);
  const plot = new uPlot(
    {
      width,
      height: 220,
      title,
      scales: { x: { time: options.time === true }, y: { distr: options.log ? 3 : 1 } },
      axes: [
        // Steps and trials are whole numbers: ticks at whole steps (1, 2, 5 and their tens).
        { label: options.xLabel || "step", ...(options.xLabel === "seconds" ? {} : { incrs: wholeIncrements }) },
        // The values as the tables write them, with room for the longest.
        { values: (u, splits) => splits.map(tick), size: (u, values) => (values ? 24 + 7 * Math.max(...values.map((v) => v.length)) : 50) },
      ],
      series: [{ label: options.xLabel || "step" }].concat(
        series.map((s, i) => ({
          label: s.label,
          stroke: s.color || palette[i % palette.length],
          width: s.width || 1,
          spanGaps: true,
          // Scatter series: points without lines.
          ...(s.scatter ? { paths: () => null, points: { show: true, size: 6, fill: palette[i % palette.length] } } : { points: { show: data[0].length < 40 } }),
        })),
      ),
      legend: { show: options.legend !== undefined ? options.legend : series.length > 1 },
    },
    data,
    target,
  );
  return plot;
}

// ---- runs table ------------------------------------------------------------------------

const layoutKey = "sluice.runs.columns";

// The runs table's chosen columns, in the order shown: fields of the --where language,
// metrics.K (the latest value), min(metrics.K), max(metrics.K), metrics.K@STEP (the value
// at a step) and params.K. Kept in the browser.
function savedColumns() {
  try {
    const saved = JSON.parse(localStorage.getItem(layoutKey));
    if (saved && Array.isArray(saved.fields)) return saved.fields;
    // The first layout kept metrics and parameters apart.
    if (saved && Array.isArray(saved.params) && Array.isArray(saved.metrics)) {
      return saved.metrics.map((k) => "metrics." + k).concat(saved.params.map((k) => "params." + k));
    }
  } catch (e) {
    /* a layout from another version: start over */
  }
  return null;
}

function saveColumns(fields) {
  localStorage.setItem(layoutKey, JSON.stringify({ fields }));
}

// A column's field read: its heading, and where a run's value is in /api/runs' answer.
function column(field) {
  let m;
  if ((m = /^(min|max)\(metrics\.(.+)\)$/.exec(field))) return { field, title: `${m[2]} (${m[1]})`, value: (r) => r.fields && r.fields[field] };
  if ((m = /^metrics\.(.+)@(\d+)$/.exec(field))) return { field, title: `${m[1]} @ step ${m[2]}`, value: (r) => r.fields && r.fields[field] };
  if (field.startsWith("metrics.")) return { field, title: field.slice(8), value: (r) => r.metrics[field.slice(8)] };
  return { field, title: field.slice(7), value: (r) => r.params && r.params[field.slice(7)] };
}

// The fields /api/runs is asked for besides the latest metrics and the parameters.
function statFields(chosen) {
  return chosen.filter((f) => !/^(metrics|params)\.[^@]*$/.test(f));
}

async function runsPage() {
  const query = new URLSearchParams(location.search);
  const state = {
    where: query.get("where") || "",
    order: query.get("order_by") || "",
    group: query.get("group") || "",
    limit: 100,
    selected: new Set(),
  };
  // The first page of runs is asked for at once, with the columns it will be shown in.
  state.fields = statFields(savedColumns() || []);
  let first = api("/api/runs?" + runsQuery(state));
  first.catch(() => {});
  const columns = (await api("/api/columns")).body;
  // By default the metrics runs are judged by, and no parameters.
  const chosen = savedColumns() || columns.metrics.filter((k) => /\.(accuracy|f1_macro|loss|rmse)$/.test(k)).slice(0, 4).map((k) => "metrics." + k);
  const where = el("input", { type: "text", id: "where", placeholder: 'filter, e.g. metrics.eval.accuracy > 0.8 and status = "succeeded"', value: state.where });
  const error = el("div", { class: "error", id: "where-error" });
  const group = el(
    "select",
    { id: "group" },
    el("option", { value: "" }, "no grouping"),
    el("option", { value: "pipeline" }, "group by pipeline"),
    el("option", { value: "study" }, "group by study"),
  );
  group.value = state.group;
  const compare = el("button", { id: "compare", disabled: true }, "Compare");
  const count = el("span", { class: "muted", id: "count" });
  const chooser = el(
    "details",
    {},
    el("summary", {}, "Columns"),
    columnChooser(columns, chosen, () => {
      saveColumns(chosen);
      state.fields = statFields(chosen);
      load();
    }),
  );
  const table = el("table", { id: "runs" });
  const more = el("button", { id: "more" }, "More");
  main.replaceChildren(
    el("h1", {}, "Runs"),
    el("div", { class: "toolbar" }, where, group, compare, count),
    error,
    chooser,
    el("div", { class: "scroll" }, table),
    more,
  );
  where.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      state.where = where.value.trim();
      state.limit = 100;
      syncUrl();
      load();
    }
  });
  group.addEventListener("change", () => {
    state.group = group.value;
    syncUrl();
    load();
  });
  compare.addEventListener("click", () => navigate("/compare?runs=" + Array.from(state.selected).join(",")));
  more.addEventListener("click", () => {
    state.limit += 100;
    load();
  });

  function syncUrl() {
    const q = new URLSearchParams();
    if (state.where) q.set("where", state.where);
    if (state.order) q.set("order_by", state.order);
    if (state.group) q.set("group", state.group);
    history.replaceState(null, "", "/" + (q.toString() ? "?" + q : ""));
  }

  let timer = null;
  async function load() {
    clearTimeout(timer);
    let result;
    try {
      result = await (first || api("/api/runs?" + runsQuery(state)));
      error.textContent = "";
    } catch (e) {
      // The rows of the last good filter stay; the error says what is wrong with this one.
      error.textContent = e.message;
      return;
    } finally {
      first = null;
    }
    const runs = result.body;
    count.textContent = `${runs.length} of ${result.total} runs`;
    more.hidden = runs.length >= result.total;
    state.runs = runs;
    renderRuns(table, chosen, state, compare);
    // Running runs change: look again in a moment.
    if (runs.some((r) => r.status === "running")) timer = setTimeout(load, 2000);
  }
  await load();
}

// The /api/runs query of the runs page's state.
function runsQuery(state) {
  const q = new URLSearchParams({ limit: state.limit });
  if (state.where) q.set("where", state.where);
  for (const f of state.fields) q.append("field", f);
  // Grouped, the rows of a group are together; otherwise the order chosen (newest first).
  const order = state.group ? (state.group === "study" ? "study" : "pipeline") + " asc" : state.order;
  if (order) q.set("order_by", order);
  return q;
}

// Check boxes for each metric (its latest value, lowest, highest, or its value at a step
// typed in) and each parameter; a change updates `chosen` in place.
function columnChooser(columns, chosen, changed) {
  const toggle = (field, on) => {
    const at = chosen.indexOf(field);
    if (on && at < 0) chosen.push(field);
    if (!on && at >= 0) chosen.splice(at, 1);
    changed();
  };
  const box = (field, attrs = {}) => {
    const input = el("input", { type: "checkbox", "data-field": field, checked: chosen.includes(field), ...attrs });
    input.addEventListener("change", () => toggle(field, input.checked));
    return input;
  };
  const rows = columns.metrics.map((key) => {
    const step = el("input", { type: "number", min: 0, placeholder: "at step", class: "step", "data-step-for": key });
    step.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && /^\d+$/.test(step.value)) toggle(`metrics.${key}@${step.value}`, true);
    });
    return el("div", {}, el("label", {}, box("metrics." + key, { "data-kind": "metrics", "data-key": key }), ` metric ${key} `), el("label", {}, box(`min(metrics.${key})`), " min "), el("label", {}, box(`max(metrics.${key})`), " max "), step);
  });
  for (const key of columns.params) {
    rows.push(el("div", {}, el("label", {}, box("params." + key, { "data-kind": "params", "data-key": key }), ` param ${key}`)));
  }
  return el("div", { class: "columns" }, el("p", { class: "muted" }, "Drag a column's heading to move it; Enter in a step box adds the value at that step."), rows);
}

function renderRuns(table, chosen, state, compare) {
  const runs = state.runs;
  const fields = [
    { title: "run", order: "id", cell: (r) => el("td", {}, el("a", { href: "/runs/" + r.id, onclick: link }, r.id.slice(0, 8))) },
    { title: "pipeline", order: "pipeline", cell: (r) => el("td", {}, r.pipeline) },
    { title: "status", order: "status", cell: (r) => statusCell(r.status) },
    { title: "started (UTC)", order: "started_at", cell: (r) => el("td", {}, when(r.started_at)) },
    { title: "duration", order: "duration", cell: (r) => el("td", { class: "num" }, duration(seconds(r.started_at, r.ended_at))) },
  ];
  for (const f of chosen) {
    const c = column(f);
    fields.push({ title: c.title, order: f, chosen: true, cell: (r) => el("td", { class: f.startsWith("params.") ? "" : "num" }, fmt(c.value(r))) });
  }
  const [orderField, orderDir] = state.order.split(/\s+/);
  // A chosen column's heading is dragged onto another's to move it there.
  const drag = (f) =>
    f.chosen
      ? {
          draggable: "true",
          ondragstart: (e) => e.dataTransfer.setData("text/plain", f.order),
          ondragover: (e) => e.preventDefault(),
          ondrop: (e) => {
            e.preventDefault();
            const moved = e.dataTransfer.getData("text/plain");
            if (!chosen.includes(moved) || moved === f.order) return;
            chosen.splice(chosen.indexOf(moved), 1);
            chosen.splice(chosen.indexOf(f.order), 0, moved);
            saveColumns(chosen);
            renderRuns(table, chosen, state, compare);
          },
        }
      : {};
  const head = el(
    "tr",
    {},
    el("th", {}, ""),
    fields.map((f) =>
      el(
        "th",
        {
          "data-order": f.order,
          ...drag(f),
          onclick: () => {
            state.order = f.order + (orderField === f.order && orderDir !== "asc" ? " asc" : " desc");
            const q = new URLSearchParams(location.search);
            q.set("order_by", state.order);
            history.replaceState(null, "", "/?" + q);
            runsPage();
          },
        },
        f.title + (orderField === f.order ? (orderDir === "asc" ? " ▲" : " ▼") : ""),
      ),
    ),
  );
  const rows = [head];
  let lastGroup;
  for (const r of runs) {
    if (state.group) {
      const g = state.group === "study" ? r.study || "(not in a study)" : r.pipeline;
      if (g !== lastGroup) {
        rows.push(el("tr", { class: "group" }, el("td", { colspan: fields.length + 1 }, el("b", {}, g))));
        lastGroup = g;
      }
    }
    const box = el("input", { type: "checkbox", checked: state.selected.has(r.id) });
    const row = el("tr", { "data-run": r.id, class: state.selected.has(r.id) ? "selected" : "" }, el("td", {}, box), fields.map((f) => f.cell(r)));
    box.addEventListener("change", () => {
      if (box.checked) state.selected.add(r.id);
      else state.selected.delete(r.id);
      row.className = box.checked ? "selected" : "";
      compare.disabled = state.selected.size < 2;
    });
    rows.push(row);
  }
  table.replaceChildren(...rows);
}

// ---- one run -----------------------------------------------------------------------------

// The run as the server put it in the page it answered (its first screen's needs: no
// metric statistics, the keys of its charts), once; null when it did not.
function inlineRun(id) {
  const inline = document.getElementById("sluice-run");
  if (!inline) return null;
  inline.remove();
  const run = JSON.parse(inline.textContent);
  return run.id.startsWith(id) ? run : null;
}

async function runPage(id) {
  const url = "/api/runs/" + encodeURIComponent(id);
  const run = inlineRun(id) || (await api(url)).body;
  const options = { smoothing: 0.6, x: "step", log: false };
  const charts = el("div", { class: "grid", id: "charts" });
  const keys =
    run.chart_keys ||
    Object.entries(run.metric_stats)
      .filter(([, s]) => s.points > 1)
      .map(([k]) => k);

  const smoothing = el("input", { type: "range", min: 0, max: 0.99, step: 0.01, value: options.smoothing, id: "smoothing" });
  const smoothingLabel = el("span", {}, String(options.smoothing));
  const axis = el("select", { id: "axis" }, el("option", { value: "step" }, "step"), el("option", { value: "time" }, "time"));
  const log = el("input", { type: "checkbox", id: "log" });
  smoothing.addEventListener("change", () => {
    options.smoothing = Number(smoothing.value);
    smoothingLabel.textContent = smoothing.value;
    drawCharts();
  });
  axis.addEventListener("change", () => {
    options.x = axis.value;
    drawCharts();
  });
  log.addEventListener("change", () => {
    options.log = log.checked;
    drawCharts();
  });

  // Charts are drawn when they come into view (a run may log hundreds of series): those on
  // the first screen before the page counts as shown, the rest as they near the screen.
  let observer = null;
  let width = 0;
  async function drawCharts() {
    if (observer) observer.disconnect();
    charts.replaceChildren();
    const boxes = keys.map((key) => el("div", { class: "chart", "data-key": key }));
    charts.append(...boxes);
    observer = new IntersectionObserver(
      (entries) => {
        const seen = entries.filter((e) => e.isIntersecting).map((e) => e.target);
        for (const box of seen) observer.unobserve(box);
        if (seen.length) drawBatch(seen).catch(fail);
      },
      { rootMargin: "300px" },
    );
    // The grid's boxes are alike: one measure gives every chart its width.
    width = boxes.length ? Math.max(300, boxes[0].clientWidth - 16) : 0;
    const first = boxes.filter((box) => box.getBoundingClientRect().top < window.innerHeight);
    await drawBatch(first);
    // The others once the first screen is drawn, so that they don't hold it back.
    for (const box of boxes.slice(first.length)) observer.observe(box);
  }

  // The charts of these boxes, their series asked for in one request for the smoothed ones
  // (losses) and one for the rest.
  async function drawBatch(boxes) {
    const smoothed = (box) => /loss/.test(box.dataset.key) && options.smoothing > 0;
    const groups = [boxes.filter(smoothed), boxes.filter((box) => !smoothed(box))].filter((group) => group.length);
    await Promise.all(
      groups.map(async (group) => {
        const smooth = smoothed(group[0]);
        const q = new URLSearchParams({ points: 2000 });
        if (options.x === "step") q.set("time", "0");
        for (const box of group) q.append("key", box.dataset.key);
        if (smooth) q.set("smoothing", options.smoothing);
        const answers = api(`/api/runs/${encodeURIComponent(run.id)}/metrics?${q}`);
        await uplot();
        const series = (await answers).body;
        group.forEach((box, i) => drawChart(box, series[i], smooth));
      }),
    );
  }

  function drawChart(box, s, smooth) {
    const key = s.key;
    const x = options.x === "time" ? s.time.map((t) => t - s.time[0]) : s.step;
    const series = [{ label: key, x, y: s.value, color: smooth ? "#b9cdf5" : undefined }];
    if (smooth) series.push({ label: `${key} (smoothed ${options.smoothing})`, x, y: s.smoothed, width: 2 });
    const title = `${key}${s.total > s.step.length ? ` (${s.step.length} of ${s.total} points)` : ""}`;
    lineChart(box, title, series, { log: options.log, xLabel: options.x === "time" ? "seconds" : "step", width });
  }

  // The head of the page and the charts' boxes first, the charts of the first screen drawn,
  // then the rest of the page.
  const rest = el("div", { class: "below" });
  main.replaceChildren(
    el("h1", {}, `Run ${run.id} `, el("span", { class: "status-" + run.status }, run.status)),
    el("p", {}, `${run.pipeline} (${run.file}), started ${when(run.started_at)} UTC, ${duration(seconds(run.started_at, run.ended_at))}`, run.study ? el("span", {}, ", trial ", String(run.trial), " of study ", el("a", { href: "/studies/" + run.study, onclick: link }, run.study)) : null),
    run.error ? el("p", { class: "error" }, run.error) : null,
    el("h2", {}, "Charts"),
    el("div", { class: "toolbar" }, "smoothing ", smoothing, smoothingLabel, " x axis ", axis, el("label", {}, log, " log scale")),
    charts,
    rest,
  );
  await drawCharts();
  // The first screen is complete; what is below it is built after the browser has shown it.
  window.sluiceReadyAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve));

  const stats = Object.entries(run.metric_stats || (await api(url)).body.metric_stats);
  const metricRows = stats.map(([k, s]) =>
    el("tr", {}, el("td", {}, k), el("td", { class: "num" }, fmt(s.latest)), el("td", { class: "num" }, fmt(s.min)), el("td", { class: "num" }, fmt(s.max)), el("td", { class: "num" }, s.step)),
  );
  const started = Date.parse(run.started_at);
  const total = Math.max(1e-3, seconds(run.started_at, run.ended_at));
  const timeline = run.stage_times.map((t, i) => {
    const stage = run.stages[i];
    const begin = t.started_at ? (Date.parse(t.started_at) - started) / 1000 : 0;
    const length = t.started_at ? seconds(t.started_at, t.ended_at) : 0;
    const bar = el("span", { style: `left:${(100 * begin) / total}%;width:${Math.max(0.5, (100 * length) / total)}%` }, `${stage.name} ${duration(length)}`);
    return el("div", { class: "timeline", title: `${stage.name}: ${stage.plugin} ${stage.plugin_version}, ${stage.status}` }, bar);
  });
  const artifacts = run.artifacts.map((a) => {
    const url = `/api/runs/${run.id}/artifacts/${encodeURIComponent(a.stage)}/${encodeURIComponent(a.name)}`;
    const item = el("div", { class: "artifact" }, el("h3", {}, `${a.stage}/${a.name} `, el("a", { href: url + "?download=1" }, "download"), a.state !== "ok" ? el("span", { class: "error" }, ` (${a.state})`) : null));
    if (a.state === "ok" && /\.svg$/.test(a.path)) item.append(el("img", { class: "artifact", src: url, alt: a.name, loading: "lazy" }));
    if (a.state === "ok" && /\.csv$/.test(a.path)) {
      const pre = el("pre", { class: "csv" }, "…");
      item.append(pre);
      fetch(url)
        .then((r) => r.text())
        .then((t) => (pre.textContent = t.split("\n").slice(0, 21).join("\n")));
    }
    return item;
  });
  rest.append(
    el("h2", {}, "Metrics"),
    el("table", { id: "metrics" }, el("tr", {}, el("th", {}, "metric"), el("th", {}, "latest"), el("th", {}, "min"), el("th", {}, "max"), el("th", {}, "step")), metricRows),
    el("h2", {}, "Stages"),
    el("div", { id: "timeline" }, timeline),
    el("h2", {}, "Parameters"),
    el("table", { id: "params" }, Object.entries(run.params).map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, fmt(v))))),
    el("h2", {}, "Artifacts"),
    el("div", {}, artifacts),
    el("h2", {}, "Environment"),
    el("table", {}, Object.entries(run.environment).map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v)))),
  );
}

// ---- compare -------------------------------------------------------------------------------

async function comparePage() {
  const ids = (new URLSearchParams(location.search).get("runs") || "").split(",").filter(Boolean);
  const runs = await Promise.all(ids.map(async (id) => (await api("/api/runs/" + encodeURIComponent(id))).body));
  const keys = Array.from(new Set(runs.flatMap((r) => Object.entries(r.metric_stats).filter(([, s]) => s.points > 1).map(([k]) => k)))).sort();
  const paramKeys = Array.from(new Set(runs.flatMap((r) => Object.keys(r.params)))).sort();
  const charts = el("div", { class: "grid", id: "charts" });
  const rows = paramKeys.map((k) => {
    const values = runs.map((r) => JSON.stringify(r.params[k]));
    const differs = new Set(values).size > 1;
    return el("tr", { class: differs ? "diff" : "" }, el("td", {}, k), runs.map((r) => el("td", {}, fmt(r.params[k]))));
  });
  main.replaceChildren(
    el("h1", {}, `Comparing ${runs.length} runs`),
    el("table", { id: "compare-params" }, el("tr", {}, el("th", {}, "parameter"), runs.map((r) => el("th", {}, el("a", { href: "/runs/" + r.id, onclick: link }, r.id.slice(0, 8))))), rows),
    el("p", { class: "muted" }, "Highlighted: parameters that differ."),
    charts,
  );
  await uplot();
  for (const key of keys) {
    const box = el("div", { class: "chart", "data-key": key });
    charts.append(box);
    const series = [];
    for (const r of runs) {
      if (!r.metric_stats[key]) continue;
      const s = (await api(`/api/runs/${r.id}/metrics/${encodeURIComponent(key)}?points=2000`)).body;
      series.push({ label: r.id.slice(0, 8), x: s.step, y: s.value });
    }
    lineChart(box, key, series, { legend: true });
  }
}

// ---- studies ---------------------------------------------------------------------------------

async function studiesPage() {
  const studies = (await api("/api/studies")).body;
  main.replaceChildren(
    el("h1", {}, "Studies"),
    listTable(
      "studies",
      ["study", "pipeline", "status", "created (UTC)", "objective", "trials", "pruned", "failed", "best"],
      studies.map((s) =>
        el("tr", {}, el("td", {}, el("a", { href: "/studies/" + s.study, onclick: link }, s.study)), el("td", {}, s.pipeline), statusCell(s.status), el("td", {}, when(s.created_at)), el("td", {}, `${s.metric} (${s.direction})`), el("td", { class: "num" }, s.trials), el("td", { class: "num" }, s.pruned), el("td", { class: "num" }, s.failed), el("td", { class: "num" }, s.best ? fmt(s.best.value) : "")),
      ),
      "No studies yet (sluice sweep FILE starts one).",
    ),
  );
}

async function studyPage(id) {
  const study = (await api("/api/studies/" + encodeURIComponent(id))).body;
  const maximize = study.direction === "maximize";
  const done = study.trials.filter((t) => t.value !== null && t.state === "complete").sort((a, b) => a.number - b.number);
  let best = null;
  const bestX = [], bestY = [], valueX = [], valueY = [];
  for (const t of done) {
    best = best === null ? t.value : maximize ? Math.max(best, t.value) : Math.min(best, t.value);
    bestX.push(t.number);
    bestY.push(best);
    valueX.push(t.number);
    valueY.push(t.value);
  }
  const bestBox = el("div", { class: "chart", id: "best-so-far" });
  const prunedBox = el("div", { class: "chart", id: "pruned" });
  const importance = Object.entries(study.importance).sort((a, b) => b[1] - a[1]);
  const paramKeys = Array.from(new Set(study.trials.flatMap((t) => Object.keys(t.params))));
  main.replaceChildren(
    el("h1", {}, `Study ${study.study} `, el("span", { class: "status-" + study.status }, study.status)),
    el("p", {}, `${study.pipeline}: ${study.metric} (${study.direction}), ${study.trials.length} trials`),
    el("div", { class: "grid" }, bestBox, prunedBox),
    el("h2", {}, "Parameter importance"),
    importance.length
      ? el("table", { id: "importance" }, importance.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, el("div", { style: `background:#b9cdf5;width:${Math.round(300 * v)}px;height:12px` })), el("td", { class: "num" }, fmt(v)))))
      : el("p", { class: "muted", id: "importance" }, "Not enough complete trials to tell yet."),
    el("h2", {}, "Parallel coordinates"),
    parallelCoordinates(study.trials.filter((t) => t.value !== null), paramKeys, maximize),
    el("h2", {}, "Trials"),
    listTable(
      "trials",
      ["#", "state", "value", "step", "run"].concat(paramKeys),
      study.trials.map((t) =>
        el("tr", {}, el("td", { class: "num" }, t.number), statusCell(t.state), el("td", { class: "num" }, fmt(t.value)), el("td", { class: "num" }, t.step === null ? "" : t.step), el("td", {}, t.run ? el("a", { href: "/runs/" + t.run, onclick: link }, t.run.slice(0, 8)) : ""), paramKeys.map((k) => el("td", {}, fmt(t.params[k])))),
      ),
    ),
  );
  await uplot();
  if (bestX.length) lineChart(bestBox, "objective by trial, and the best so far", [{ label: "value", x: valueX, y: valueY, scatter: true }, { label: "best so far", x: bestX, y: bestY, width: 2 }], { xLabel: "trial", legend: true });
  // Each trial's pruning metric, step by step (the newest 40): a pruned trial's curve ends
  // at the rung where it was stopped.
  const metric = study.sweep.prune_metric;
  if (study.sweep.pruner !== "none" && metric) {
    const shown = study.trials.filter((t) => t.run && (t.state === "complete" || t.state === "pruned")).slice(-40);
    const series = [];
    for (const t of shown) {
      try {
        const s = (await api(`/api/runs/${t.run}/metrics/${encodeURIComponent(metric)}?points=500`)).body;
        series.push({ label: `#${t.number} ${t.state}`, x: s.step, y: s.value, color: t.state === "pruned" ? "#d9480f" : "#2459c9" });
      } catch (e) {
        /* a trial that logged none of it has no curve */
      }
    }
    lineChart(prunedBox, `${metric} by step: pruned trials (orange) stop where they were pruned`, series, { legend: false });
  } else {
    prunedBox.append(el("p", { class: "muted" }, "This study prunes nothing."));
  }
}

// Parallel coordinates as SVG: one axis per parameter and the objective, one line per trial,
// coloured by its objective (darker is better).
function parallelCoordinates(trials, keys, maximize) {
  const ns = "http://www.w3.org/2000/svg";
  const axes = keys.concat(["objective"]);
  const width = Math.max(400, 140 * axes.length), height = 280, top = 24, bottom = 44;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("id", "parallel");
  const value = (t, k) => (k === "objective" ? t.value : t.params[k]);
  // Each axis: a scale to [0, 1] and its lowest and highest values (numbers by value, other
  // values as ordered levels).
  const scales = [], ends = [];
  for (const k of axes) {
    const vs = trials.map((t) => value(t, k));
    if (vs.every((v) => typeof v === "number")) {
      const lo = Math.min(...vs), hi = Math.max(...vs);
      scales.push((v) => (hi === lo ? 0.5 : (v - lo) / (hi - lo)));
      ends.push([lo, hi]);
    } else {
      const levels = Array.from(new Set(vs.map((v) => JSON.stringify(v)))).sort();
      scales.push((v) => (levels.length === 1 ? 0.5 : levels.indexOf(JSON.stringify(v)) / (levels.length - 1)));
      ends.push([JSON.parse(levels[0]), JSON.parse(levels[levels.length - 1])]);
    }
  }
  const x = (i) => 40 + (i * (width - 80)) / Math.max(1, axes.length - 1);
  const y = (f) => top + (1 - f) * (height - top - bottom);
  const objective = scales[axes.length - 1];
  for (const t of trials) {
    const quality = maximize ? objective(t.value) : 1 - objective(t.value);
    const path = document.createElementNS(ns, "polyline");
    path.setAttribute("points", axes.map((k, i) => `${x(i)},${y(scales[i](value(t, k)))}`).join(" "));
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", `hsl(220, 70%, ${80 - 50 * quality}%)`);
    path.setAttribute("stroke-width", "1.2");
    svg.append(path);
  }
  axes.forEach((k, i) => {
    const line = document.createElementNS(ns, "line");
    line.setAttribute("x1", x(i));
    line.setAttribute("x2", x(i));
    line.setAttribute("y1", top);
    line.setAttribute("y2", height - bottom);
    line.setAttribute("stroke", "#444");
    svg.append(line);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", x(i));
    label.setAttribute("y", height - 6);
    label.setAttribute("text-anchor", "middle");
    label.setAttribute("font-size", "11");
    label.textContent = k;
    svg.append(label);
    // The axis' lowest and highest values, at its ends.
    for (const [end, yy] of [[ends[i][1], top - 6], [ends[i][0], height - bottom + 14]]) {
      const tick = document.createElementNS(ns, "text");
      tick.setAttribute("x", x(i) + 4);
      tick.setAttribute("y", yy);
      tick.setAttribute("font-size", "10");
      tick.setAttribute("fill", "#666");
      tick.textContent = fmt(end);
      svg.append(tick);
    }
  });
  return svg;
}

// ---- models --------------------------------------------------------------------------------

async function modelsPage() {
  const models = (await api("/api/models")).body;
  const metricKeys = Array.from(new Set(models.flatMap((m) => Object.keys(m.metrics)))).filter((k) => /^eval\./.test(k)).sort().slice(0, 6);
  main.replaceChildren(
    el("h1", {}, "Models"),
    listTable(
      "models",
      ["name", "version", "aliases", "created (UTC)", "source run"].concat(metricKeys),
      models.map((m) =>
        el("tr", {}, el("td", {}, m.name), el("td", { class: "num" }, m.version), el("td", {}, m.aliases.join(", ")), el("td", {}, when(m.created_at)), el("td", {}, m.run_id ? el("a", { href: "/runs/" + m.run_id, onclick: link }, m.run_id.slice(0, 8)) : ""), metricKeys.map((k) => el("td", { class: "num" }, fmt(m.metrics[k])))),
      ),
      "No registered models yet.",
    ),
  );
}

// ---- routing ---------------------------------------------------------------------------------

function link(event) {
  if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(event.currentTarget.getAttribute("href"));
}

function navigate(href) {
  history.pushState(null, "", href);
  route();
}

async function route() {
  window.sluiceReadyAt = undefined;
  const parts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts.length === 0) await runsPage();
    else if (parts[0] === "runs" && parts.length === 2) await runPage(parts[1]);
    else if (parts[0] === "compare") await comparePage();
    else if (parts[0] === "studies" && parts.length === 1) await studiesPage();
    else if (parts[0] === "studies" && parts.length === 2) await studyPage(parts[1]);
    else if (parts[0] === "models") await modelsPage();
    else main.replaceChildren(el("p", {}, "No page here."));
  } catch (e) {
    fail(e);
  }
  document.body.dataset.ready = location.pathname + location.search;
  // When the page's first screen was complete, in ms since navigation began (what
  // bench/ui_scale.py reads): a page that draws below it says so itself.
  if (window.sluiceReadyAt === undefined) window.sluiceReadyAt = performance.now();
}

for (const a of document.querySelectorAll("header a")) a.addEventListener("click", link);
window.addEventListener("popstate", route);
route();
