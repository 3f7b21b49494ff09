/* costplane dashboard: calls /api/v1 with the user's token and draws SVG charts (no libraries).
 * Routes are looked up by operation id in /openapi.json ("tag-name"), so the page follows the API
 * and a panel whose route this build lacks stays hidden. */
"use strict";

const TOKEN_KEY = "costplane.token";
const COLORS = ["#2f6fde", "#e8833a", "#3aa676", "#c44e9c", "#8a6cd8", "#d6b11f", "#4bb3c4", "#a0522d", "#7a8599"];
const SVG_NS = "http://www.w3.org/2000/svg";
let OPS = {};

// ------------------------------------------------------------------ token and API client

function takeTokenFromUrl() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token) {
    localStorage.setItem(TOKEN_KEY, token);
    url.searchParams.delete("token");  // keep the secret out of history and screenshots
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return localStorage.getItem(TOKEN_KEY);
}

async function loadOperations() {
  const spec = await (await fetch("/openapi.json")).json();
  const ops = {};
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (op.operationId) ops[op.operationId] = { method: method.toUpperCase(), path };
    }
  }
  return ops;
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
  }
}

async function call(opId, { query = {}, params = {}, body } = {}) {
  const op = OPS[opId];
  if (!op) throw new ApiError(404, { error: { message: `operation ${opId} not served` } });
  let path = op.path.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(params[k]));
  const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null));
  if ([...qs].length) path += "?" + qs;
  const init = { method: op.method, headers: { Authorization: "Bearer " + localStorage.getItem(TOKEN_KEY) } };
  if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  const resp = await fetch(path, init);
  const data = resp.status === 204 ? null : await resp.json();
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

const has = (opId) => Boolean(OPS[opId]);

// ------------------------------------------------------------------ formatting and DOM helpers

const usd = (x) => (x === null || x === undefined) ? "–" :
  "$" + Number(x).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const pct = (x) => (x === null || x === undefined) ? "–" : (100 * x).toFixed(1) + " %";
const day = (s) => new Date(s * 1000).toISOString().slice(5, 10);
const hhmm = (s) => new Date(s * 1000).toISOString().slice(11, 16);
const hhmmss = (s) => new Date(s * 1000).toISOString().slice(11, 19);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceMax(x) {
  if (!(x > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

function axes(root, { w, h, pad, ymax, yfmt, xlabels }) {
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + (h - pad.t - pad.b) * (1 - i / 4);
    root.append(svg("line", { x1: pad.l, x2: w - pad.r, y1: y, y2: y, stroke: "#e4e7ec" }));
    root.append(svg("text", { x: pad.l - 6, y: y + 4, "text-anchor": "end" }, yfmt(ymax * i / 4)));
  }
  for (const [x, label] of xlabels) root.append(svg("text", { x, y: h - pad.b + 16, "text-anchor": "middle" }, label));
}

// Stacked bars: series [{key, points:[{start_s, cost_usd}]}], one bar per step.
function stackedBars(container, series, { fmtX = day } = {}) {
  container.replaceChildren();
  if (!series.length) { container.append(el("p", { class: "muted", text: "no cost lines in this window" })); return; }
  const w = Math.max(container.clientWidth || 800, 320), h = 240, pad = { l: 64, r: 12, t: 10, b: 26 };
  const n = series[0].points.length;
  const totals = Array.from({ length: n }, (_, i) => series.reduce((a, s) => a + s.points[i].cost_usd, 0));
  const ymax = niceMax(Math.max(...totals));
  const root = svg("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
  const bw = (w - pad.l - pad.r) / n;
  const every = Math.ceil(n / 12);
  axes(root, { w, h, pad, ymax, yfmt: (v) => "$" + Math.round(v).toLocaleString("en-US"),
               xlabels: series[0].points.map((p, i) => [pad.l + bw * (i + 0.5), i % every ? "" : fmtX(p.start_s)]) });
  const base = new Array(n).fill(0);
  series.forEach((s, k) => {
    s.points.forEach((p, i) => {
      const y0 = base[i], y1 = base[i] + p.cost_usd;
      base[i] = y1;
      const sy = (v) => pad.t + (h - pad.t - pad.b) * (1 - v / ymax);
      const rect = svg("rect", { x: pad.l + bw * i + bw * 0.12, width: bw * 0.76, y: sy(y1), height: Math.max(sy(y0) - sy(y1), 0),
                                 fill: COLORS[k % COLORS.length] });
      rect.append(svg("title", {}, `${s.key} ${fmtX(p.start_s)}: ${usd(p.cost_usd)}`));
      root.append(rect);
    });
  });
  container.append(root);
}

// Lines: [{label, color, xs, ys, dash}] on shared axes.
function lineChart(container, lines, { yfmt = (v) => v.toFixed(1), title } = {}) {
  const w = Math.max(container.clientWidth || 800, 320), h = 200, pad = { l: 56, r: 12, t: 18, b: 26 };
  const xs = lines.flatMap((l) => l.xs), ys = lines.flatMap((l) => l.ys);
  if (!xs.length) return;
  const x0 = Math.min(...xs), x1 = Math.max(...xs) || x0 + 1, ymax = niceMax(Math.max(...ys, 0));
  const sx = (x) => pad.l + (w - pad.l - pad.r) * (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5);
  const sy = (y) => pad.t + (h - pad.t - pad.b) * (1 - y / ymax);
  const root = svg("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
  const fmtX = x1 - x0 < 600 ? hhmmss : hhmm;  // a short span needs seconds to tell ticks apart
  const ticks = [0.05, 0.3, 0.55, 0.8].map((f) => [sx(x0 + f * (x1 - x0)), fmtX(x0 + f * (x1 - x0))]);
  axes(root, { w, h, pad, ymax, yfmt, xlabels: ticks });
  if (title) root.append(svg("text", { x: pad.l, y: 12 }, title));
  lines.forEach((l, k) => {
    const d = l.xs.map((x, i) => `${i ? "L" : "M"}${sx(x).toFixed(1)},${sy(l.ys[i]).toFixed(1)}`).join("");
    root.append(svg("path", { d, fill: "none", stroke: l.color, "stroke-width": 2, "stroke-dasharray": l.dash || "" }));
    l.xs.forEach((x, i) => root.append(svg("circle", { cx: sx(x), cy: sy(l.ys[i]), r: l.xs.length > 60 ? 0 : 2.5, fill: l.color })));
    root.append(svg("text", { x: w - pad.r - 160, y: pad.t + 12 + 14 * k, style: `fill:${l.color}` }, l.label));
  });
  container.append(root);
}

// Horizontal bars: [{label, value}] sorted as given.
function hbars(container, rows, fmt = usd) {
  container.replaceChildren();
  const w = Math.max(container.clientWidth || 600, 320), rowH = 22, pad = { l: 150, r: 90 };
  const vmax = niceMax(Math.max(...rows.map((r) => r.value), 0));
  const root = svg("svg", { width: w, height: rows.length * rowH + 8, role: "img" });
  rows.forEach((r, i) => {
    const y = 4 + i * rowH;
    root.append(svg("text", { x: pad.l - 8, y: y + 14, "text-anchor": "end" }, r.label));
    root.append(svg("rect", { x: pad.l, y: y + 3, height: 14, width: Math.max((w - pad.l - pad.r) * r.value / vmax, 1),
                              fill: r.color || COLORS[0] }));
    root.append(svg("text", { x: w - pad.r + 6, y: y + 14 }, fmt(r.value)));
  });
  container.append(root);
}

// ------------------------------------------------------------------ panels

async function spendPanel(windowText) {
  const step = windowText === "1d" ? "1h" : "1d";
  const data = await call("spend-get_spend", { query: { window: windowText, step, by: "team" } });
  stackedBars(document.getElementById("spend-chart"), data.series, { fmtX: step === "1h" ? hhmm : day });
  const legend = document.getElementById("spend-legend");
  legend.replaceChildren(el("tr", {}, el("th", { text: "team" }), el("th", { class: "num", text: "spend" })));
  data.series.forEach((s, k) => {
    legend.append(el("tr", {},
      el("td", {}, el("span", { class: "swatch", style: `background:${COLORS[k % COLORS.length]}` }), s.key),
      el("td", { class: "num", "data-testid": "spend-total", "data-key": s.key, text: usd(s.cost_usd) })));
  });
  legend.append(el("tr", {}, el("th", { text: "total" }),
                   el("th", { class: "num", "data-testid": "spend-grand-total", text: usd(data.total_usd) })));
}

async function idlePanel(windowText) {
  if (!has("cost-get_cost")) return;
  const data = await call("cost-get_cost", { query: { window: windowText, by: "team" } });
  document.getElementById("panel-idle").hidden = false;
  document.getElementById("idle-summary").replaceChildren(el("p", {},
    "idle ", el("strong", { "data-testid": "idle-usd", text: usd(data.idle_usd) }),
    ` of ${usd(data.total_usd)} total (${pct(data.total_usd ? data.idle_usd / data.total_usd : 0)})`));
  const rows = data.rows.map((r, k) => ({ label: r.key, value: r.cost_usd, color: COLORS[k % COLORS.length] }));
  rows.push({ label: "idle", value: data.idle_usd, color: "#98a2b3" });
  hbars(document.getElementById("idle-chart"), rows);
}

async function wastePanel(windowText) {
  if (!has("waste-get_waste")) return;
  const data = await call("waste-get_waste", { query: { window: windowText } });
  document.getElementById("panel-waste").hidden = false;
  const table = document.getElementById("waste-table");
  table.replaceChildren(el("tr", {}, ...["workload", "efficiency", "idle", "recommendation", "saves / month"].map(
    (t, i) => el("th", { class: i === 1 || i === 2 || i === 4 ? "num" : "", text: t }))));
  const rows = [...data.workloads].sort((a, b) => (b.monthly_saving_usd || 0) - (a.monthly_saving_usd || 0)).slice(0, 10);
  for (const r of rows) {
    table.append(el("tr", {}, el("td", { text: r.workload }), el("td", { class: "num", text: pct(r.efficiency) }),
      el("td", { class: "num", text: usd(r.idle_usd) }), el("td", { text: r.recommendation || "" }),
      el("td", { class: "num", text: usd(r.monthly_saving_usd) })));
  }
  if (!rows.length) table.append(el("tr", {}, el("td", { class: "muted", text: "no utilisation samples in this window" })));
}

async function budgetsPanel() {
  const data = await call("budgets-list_budgets", { query: { limit: 50 } });
  const box = document.getElementById("budgets");
  box.replaceChildren();
  if (!data.data.length) { box.append(el("p", { class: "muted", text: "no budgets (operators add them with POST /api/v1/budgets)" })); return; }
  for (const b of data.data) {
    const fill = el("div", { class: b.burn_ratio >= 1 ? "over" : "", style: `width:${Math.min(100, 100 * b.burn_ratio).toFixed(1)}%` });
    box.append(el("div", { class: "budget", "data-testid": "budget", "data-name": b.name },
      el("div", {}, el("strong", { text: `${b.scope} ${b.name}` }),
         el("span", { class: "muted", text: ` · ${usd(b.spent_usd)} of ${usd(b.amount_usd)} per ${b.period} (${pct(b.burn_ratio)})` +
                                            (b.forecast_usd !== null ? ` · forecast ${usd(b.forecast_usd)} by month end` : "") }),
         ...b.alerts.map((a) => el("span", { class: "alert", text: ` ${Math.round(100 * a.threshold)} % ${a.basis}` }))),
      el("div", { class: "bar" }, fill)));
  }
}

async function forecastPanel(windowText) {
  const box = document.getElementById("forecast-charts");
  box.replaceChildren();
  const data = await call("decisions-list_decisions", { query: { window: windowText, limit: 1000 } });
  if (!data.data.length) { box.append(el("p", { class: "muted", text: "no controller decisions in this window yet" })); return; }
  const byTarget = {};
  for (const d of data.data) (byTarget[d.target] = byTarget[d.target] || []).push(d);
  for (const [target, rows] of Object.entries(byTarget).slice(0, 6)) {
    rows.sort((a, b) => a.created_at_s - b.created_at_s);
    const obs = rows[rows.length - 1].observation || {};
    const lines = [];
    if (obs.demand_ts_s && obs.demand_ts_s.length)
      lines.push({ label: "demand actual (/s)", color: COLORS[0], xs: obs.demand_ts_s, ys: obs.demand_per_s });
    const fc = rows.filter((r) => typeof r.desired.forecast_per_s === "number");
    if (fc.length) {
      lines.push({ label: "forecast at decision (/s)", color: COLORS[1], dash: "5 3",
                   xs: fc.map((r) => r.created_at_s), ys: fc.map((r) => r.desired.forecast_per_s) });
    } else if (has("forecasts-create_forecast") && obs.demand_per_s && obs.demand_per_s.length >= 40) {
      // Forecast vs actual on held-out data: fit on all but the last quarter, compare with what came.
      const n = obs.demand_per_s.length, h = Math.floor(n / 4);
      const fcast = await call("forecasts-create_forecast", { body: { values: obs.demand_per_s.slice(0, n - h), horizon: h } });
      lines.push({ label: `forecast, ${fcast.model} (/s)`, color: COLORS[1], dash: "5 3",
                   xs: obs.demand_ts_s.slice(n - h), ys: fcast.mean });
    }
    lines.push({ label: "replicas desired", color: COLORS[2], xs: rows.map((r) => r.created_at_s), ys: rows.map((r) => r.desired.replicas) });
    const div = el("div", { class: "chart", "data-target": target });
    box.append(div);
    lineChart(div, lines, { title: `${target}${rows[0].team ? " · team " + rows[0].team : ""}` });
  }
}

async function replayPanel() {
  if (!has("replays-compare_policies")) return;
  const data = await call("replays-compare_policies", {});
  document.getElementById("panel-replay").hidden = false;
  const rows = [...data.results].sort((a, b) => a.cost_usd - b.cost_usd);
  hbars(document.getElementById("replay-chart"),
        [{ label: "oracle (lower bound)", value: data.oracle_cost_usd, color: "#98a2b3" },
         ...rows.map((r, k) => ({ label: r.policy, value: r.cost_usd, color: COLORS[k % COLORS.length] }))]);
  const table = document.getElementById("replay-table");
  table.replaceChildren(el("tr", {}, ...["policy", "cost", "× oracle", "served", "cold starts"].map(
    (t, i) => el("th", { class: i ? "num" : "", text: t }))));
  for (const r of rows) {
    table.append(el("tr", {}, el("td", { text: r.policy }), el("td", { class: "num", text: usd(r.cost_usd) }),
      el("td", { class: "num", text: r.cost_ratio_to_oracle.toFixed(2) }), el("td", { class: "num", text: pct(r.demand_served_fraction) }),
      el("td", { class: "num", text: String(r.cold_starts) })));
  }
}

// ------------------------------------------------------------------ page

function showLogin(message) {
  document.getElementById("panels").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message || "";
}

async function refresh() {
  document.body.dataset.ready = "false";
  const windowText = document.getElementById("window").value;
  try {
    const me = await call("system-whoami");
    document.getElementById("whoami").textContent = `${me.name} · ${me.role}${me.team ? " · team " + me.team : " · all teams"}`;
  } catch (e) {
    showLogin(e.status === 401 ? "that token is unknown or revoked" : e.message);
    return;
  }
  document.getElementById("login").hidden = true;
  document.getElementById("panels").hidden = false;
  const panels = [spendPanel(windowText), idlePanel(windowText), wastePanel(windowText), budgetsPanel(),
                  forecastPanel(windowText), replayPanel()];
  const results = await Promise.allSettled(panels);
  results.filter((r) => r.status === "rejected").forEach((r) => console.error(r.reason));
  document.body.dataset.ready = "true";  // for end-to-end tests: every panel has rendered or failed
}

async function main() {
  const token = takeTokenFromUrl();
  OPS = await loadOperations();
  document.getElementById("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    localStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
    refresh();
  });
  document.getElementById("logout").addEventListener("click", () => { localStorage.removeItem(TOKEN_KEY); showLogin(); });
  document.getElementById("window").addEventListener("change", refresh);
  if (!token) { showLogin(); document.body.dataset.ready = "true"; return; }
  await refresh();
}

main();
