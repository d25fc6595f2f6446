// Shared by every page: the key, API calls, chart states, formatting, small DOM helpers.
// Plain ES module, no framework: each page module imports what it needs.

const KEY = "custintel.key";

// Okabe-Ito: distinguishable with every common colour-vision deficiency.
// Two more from Paul Tol's colour-blind-safe sets for charts with more than eight series.
export const PALETTE = [
  "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442",
  "#882255", "#999999",
];

window.custintel = window.custintel || { firstChartMs: null };

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

// ?token=<key> on any page signs in: keep the key for this tab, drop it from the address.
function takeToken() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (!token) return false;
  sessionStorage.setItem(KEY, token.trim());
  url.searchParams.delete("token");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
  return true;
}
export const tokenTaken = takeToken();

export function key() {
  return sessionStorage.getItem(KEY);
}

export function setKey(value) {
  sessionStorage.setItem(KEY, value);
}

export function signOut(next) {
  sessionStorage.removeItem(KEY);
  const target = next ? `/login?next=${encodeURIComponent(next)}` : "/login";
  window.location.replace(target);
}

/** The page needs a key: without one, go to the login page (and come back after). */
export function requireKey() {
  if (!key()) {
    signOut(window.location.pathname + window.location.search);
    return false;
  }
  const button = document.getElementById("sign-out");
  if (button) button.addEventListener("click", () => signOut());
  return true;
}

/** Call the API with the key; JSON back, or an ApiError carrying the problem detail.
 * A 401 (no, unknown or revoked key) sends the browser to the login page. */
export async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  headers.set("Authorization", `Bearer ${key() || ""}`);
  if (!headers.has("Accept")) headers.set("Accept", "application/json");
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) {
    signOut(window.location.pathname + window.location.search);
    throw new ApiError(401, { detail: "signed out: the key is unknown or revoked" });
  }
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = { detail: `${response.status} ${response.statusText}` };
    }
    throw new ApiError(response.status, problem);
  }
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.blob();
}

// -- which capabilities have a model ----------------------------------------------------

const TRAIN = {
  segmentation: "`custintel segment`",
  forecasting: "`custintel forecast`",
  value: "`custintel score`",
};
let activeModels = null;

/** The capabilities with an active model version (one GET /v1/models per page). */
export function activeCapabilities() {
  if (!activeModels) {
    activeModels = api("/v1/models").then(
      (versions) => new Set(versions.filter((v) => v.active).map((v) => v.capability)),
    );
  }
  return activeModels;
}

/** Throw the API's own "no active model" problem (409) before asking a route that
 * would answer it, so an untrained shop shows its empty states without failed requests. */
export async function needModel(...capabilities) {
  const active = await activeCapabilities();
  if (capabilities.some((c) => active.has(c))) return;
  const c = capabilities[0];
  throw new ApiError(409, {
    detail: `${c} has no active model yet: train it first (Train all on the Models page, `
      + `${TRAIN[c]} or \`custintel demo\`), then activate a version`,
  });
}

// -- chart states ---------------------------------------------------------------------

function markFirst() {
  if (window.custintel.firstChartMs == null) {
    window.custintel.firstChartMs = performance.now();
  }
}

function message(container, cls, text, role) {
  container.querySelectorAll(".empty-state, .error-state").forEach((n) => n.remove());
  const box = el("p", { class: cls, role }, text);
  container.append(box);
}

export function chartBody(container) {
  let body = container.querySelector(".chart-body");
  if (!body) {
    body = el("div", { class: "chart-body" });
    container.append(body);
  }
  return body;
}

/** No model, or data that cannot support the chart: say what is missing and how to
 * get it, never a blank chart. */
export function showEmpty(container, text) {
  destroy(container);
  container.dataset.state = "empty";
  container.dataset.series = "0";
  container.dataset.points = "0";
  message(container, "empty-state", text, "status");
  markFirst();
}

export function showError(container, error) {
  destroy(container);
  container.dataset.state = "error";
  message(container, "error-state", `Could not load: ${error.message || error}`, "alert");
}

/** 409 (no active model) and the "not trained / not supported" answers are empty
 * states; anything else is an error. */
export function showProblem(container, error) {
  if (error instanceof ApiError && [404, 409, 422].includes(error.status)) {
    showEmpty(container, error.message);
  } else {
    showError(container, error);
  }
}

function destroy(container) {
  if (container._chart) {
    container._chart.destroy();
    container._chart = null;
  }
  const body = container.querySelector(".chart-body");
  if (body) body.replaceChildren();
}

/** Draw ApexCharts ``options`` in ``container`` and record what was drawn. */
export async function draw(container, options, counts) {
  destroy(container);
  container.querySelectorAll(".empty-state, .error-state").forEach((n) => n.remove());
  container.dataset.state = "loading";
  const base = {
    colors: PALETTE,
    chart: {
      height: 320,
      fontFamily: "inherit",
      animations: { enabled: false },
      toolbar: { show: true, tools: { download: true, selection: false, zoom: false, zoomin: false, zoomout: false, pan: false, reset: false } },
      redrawOnParentResize: true,
    },
    dataLabels: { enabled: false },
    legend: { position: "bottom" },
  };
  const merged = {
    ...base,
    ...options,
    chart: { ...base.chart, ...(options.chart || {}) },
  };
  const chart = new window.ApexCharts(chartBody(container), merged);
  container._chart = chart;
  await chart.render();
  container.dataset.series = String(counts.series);
  container.dataset.points = String(counts.points);
  container.dataset.state = "ready";
  markFirst();
  return chart;
}

/** Run ``load`` for a chart container, turning its failure into the right state. */
export async function withChart(id, load) {
  const container = document.getElementById(id);
  try {
    await load(container);
  } catch (error) {
    showProblem(container, error);
  }
}

// -- formatting -----------------------------------------------------------------------

const number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

export function fmtNumber(value) {
  return value == null ? "–" : number.format(value);
}

export function fmtDecimal(value) {
  return value == null ? "–" : decimal.format(value);
}

export function fmtPercent(value, digits = 1) {
  return value == null ? "–" : `${(value * 100).toFixed(digits)} %`;
}

export function fmtChange(value) {
  if (value == null) return "";
  const sign = value > 0 ? "+" : value < 0 ? "−" : "±";
  return `${sign}${Math.abs(value * 100).toFixed(1)} %`;
}

export function fmtDate(value) {
  return value ? String(value).slice(0, 10) : "–";
}

export function time(dateText) {
  return Date.parse(`${dateText}T00:00:00Z`);
}

// -- DOM ------------------------------------------------------------------------------

/** ``el("td", {class: "num"}, "12")``: an element with attributes and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else {
      node.setAttribute(name, value === true ? "" : value);
    }
  }
  for (const child of children.flat()) {
    if (child == null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Fill ``table`` (its tbody) with ``rows`` of cells; an empty list shows ``empty``. */
export function fillTable(table, rows, empty) {
  const body = table.tBodies[0] || table.appendChild(el("tbody"));
  const columns = table.tHead ? table.tHead.rows[0].cells.length : 1;
  if (!rows.length) {
    table.dataset.state = "empty";
    body.replaceChildren(el("tr", {}, el("td", { class: "empty-state", colspan: columns }, empty)));
    return;
  }
  body.replaceChildren(...rows);
  table.dataset.state = "ready";
}

export function tableError(table, error) {
  const body = table.tBodies[0] || table.appendChild(el("tbody"));
  const columns = table.tHead ? table.tHead.rows[0].cells.length : 1;
  const empty = error instanceof ApiError && [404, 409].includes(error.status);
  table.dataset.state = empty ? "empty" : "error";
  const cls = empty ? "empty-state" : "error-state";
  body.replaceChildren(el("tr", {}, el("td", { class: cls, colspan: columns }, error.message)));
}

// What a value version's column names in a caveat, in the dashboard's words.
const CAVEAT_LABELS = {
  expected_spend: "Expected spend",
  expected_orders: "Expected orders",
  churn_probability: "Churn probability and risk",
  top_factors: "Top factors",
  next_order_date: "Next order date",
};

/** A caveat's column in words; ``expected_spend__<category>`` names its category. */
function caveatLabel(output) {
  if (output in CAVEAT_LABELS) return CAVEAT_LABELS[output];
  const category = output.match(/^expected_spend__(.+)$/);
  return category ? `Expected spend on ${category[1].replaceAll("_", " ")}` : output;
}

/** Fill ``container`` with the value version's caveats (``caveats`` of
 * /v1/customers/{id} and /v1/dashboard/churn: predictions whose ranking of customers
 * could be chance), one line each, and hide it when there are none. */
export function showCaveats(container, caveats) {
  const list = caveats || [];
  container.hidden = !list.length;
  container.replaceChildren(...list.map((c) => el("p", {},
    el("strong", {}, `${caveatLabel(c.output)}: ${c.status}. `), c.note)));
}

/** The caveats as one cell of a downloaded file, the form bulk results use
 * (eligibility.caveats_cell): "churn_probability: no better than chance; ...", or "". */
export function caveatsCell(caveats) {
  return (caveats || []).map((c) => `${c.output}: ${c.status}`).join("; ");
}

/** Show ``text`` in ``element`` (such as ``factors_note``: which churn model the top
 * factors explain, in the scoring run's own words), or hide it when there is none. */
export function showNote(element, text) {
  element.textContent = text || "";
  element.hidden = !text;
}

/** Save ``blob`` as a file named ``name`` (client side). */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function csvCell(value) {
  if (typeof value === "number") return String(value);
  const text = value == null ? "" : String(value);
  // A leading =, +, - or @ would be a formula in a spreadsheet: quote it as text.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\n\r;]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
