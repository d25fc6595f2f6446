// Customers: churn-risk and value-tier bars, the at-risk table (sortable, CSV download).
// Data: GET /v1/dashboard/churn?top=50
import {
  PALETTE, api, caveatsCell, csvCell, draw, el, needModel, fillTable, fmtNumber, fmtPercent, requireKey, showEmpty,
  showCaveats, showNote, showProblem, tableError,
} from "./app.js";

const TRAIN = "train it from the Models page (Train all) or run `custintel score`";
const RISK_COLORS = { low: "#009E73", medium: "#E69F00", high: "#D55E00" };
const table = document.getElementById("at-risk-table");
const download = document.getElementById("at-risk-download");
let rows = [];
let caveats = "";
let sort = { key: "clv", dir: -1 };

async function bars(container, counts, what, colors) {
  if (!counts.some((c) => c.customers > 0)) {
    showEmpty(container, `No customer has a ${what} yet; ${TRAIN}.`);
    return;
  }
  await draw(container, {
    chart: { type: "bar", height: 300 },
    series: [{ name: "Customers", data: counts.map((c) => c.customers) }],
    xaxis: { categories: counts.map((c) => c.name) },
    colors: colors || [PALETTE[0]],
    plotOptions: { bar: { distributed: Boolean(colors), borderRadius: 2 } },
    legend: { show: false },
    dataLabels: { enabled: true, formatter: (v) => fmtNumber(v), style: { colors: ["#111"] }, offsetY: -18 },
    yaxis: { labels: { formatter: (v) => fmtNumber(v) } },
  }, { series: 1, points: counts.length });
}

function value(row, key) {
  return key === "top_factor" ? row.top_factors[0] || "" : row[key];
}

function renderTable() {
  const sorted = [...rows].sort((a, b) => {
    const x = value(a, sort.key);
    const y = value(b, sort.key);
    if (x == null && y == null) return 0;
    if (x == null) return 1;
    if (y == null) return -1;
    return (typeof x === "number" ? x - y : String(x).localeCompare(String(y))) * sort.dir;
  });
  for (const th of table.tHead.rows[0].cells) {
    if (th.dataset.key === sort.key) th.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
    else th.removeAttribute("aria-sort");
  }
  fillTable(table, sorted.map((r) => el("tr", {},
    el("td", {}, el("a", { href: `/customer?id=${encodeURIComponent(r.customer_id)}` }, r.customer_id)),
    el("td", {}, el("span", { class: `risk risk-${r.churn_risk}` }, r.churn_risk || "–")),
    el("td", { class: "num" }, fmtPercent(r.churn_probability)),
    el("td", { class: "num" }, fmtNumber(r.clv)),
    el("td", { class: "num" }, fmtNumber(r.expected_spend)),
    el("td", {}, r.top_factors[0] || "–"))),
  "No valuable customer is at high or medium churn risk.");
  setDownload(sorted);
}

function setDownload(sorted) {
  // The caveats go on every row: the file leaves the page's notes behind.
  const header = ["customer_id", "churn_risk", "churn_probability", "clv", "expected_spend", "value_tier", "rfm_segment", "top_factors", "caveats"];
  const lines = [header.join(",")].concat(sorted.map((r) => [
    r.customer_id, r.churn_risk, r.churn_probability, r.clv, r.expected_spend, r.value_tier,
    r.rfm_segment, r.top_factors.join("; "), caveats,
  ].map(csvCell).join(",")));
  if (download.href.startsWith("blob:")) URL.revokeObjectURL(download.href);
  const blob = new Blob([`${lines.join("\r\n")}\r\n`], { type: "text/csv" });
  download.href = URL.createObjectURL(blob);
  download.removeAttribute("aria-disabled");
}

function sortable() {
  for (const th of table.tHead.rows[0].cells) {
    th.querySelector("button").addEventListener("click", () => {
      const key = th.dataset.key;
      sort = sort.key === key ? { key, dir: -sort.dir } : { key, dir: th.classList.contains("num") ? -1 : 1 };
      renderTable();
    });
  }
  download.addEventListener("click", (event) => {
    if (!download.href.startsWith("blob:")) event.preventDefault();
  });
}

async function main() {
  if (!requireKey()) return;
  sortable();
  const risk = document.getElementById("chart-churn-risk");
  const tiers = document.getElementById("chart-value-tiers");
  let data;
  try {
    await needModel("value");
    data = await api("/v1/dashboard/churn?top=50");
  } catch (error) {
    showProblem(risk, error);
    showProblem(tiers, error);
    tableError(table, error);
    return;
  }
  showCaveats(document.getElementById("customers-caveats"), data.caveats);
  caveats = caveatsCell(data.caveats);
  showNote(document.getElementById("at-risk-factors-note"), data.factors_note);
  rows = data.at_risk;
  renderTable();
  const colors = data.churn_risk.map((c) => RISK_COLORS[c.name] || PALETTE[6]);
  await Promise.all([
    bars(risk, data.churn_risk, "churn risk", colors).catch((e) => showProblem(risk, e)),
    bars(tiers, data.value_tiers, "value tier").catch((e) => showProblem(tiers, e)),
  ]);
}

main();
