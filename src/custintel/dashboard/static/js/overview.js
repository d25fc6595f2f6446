// Overview: KPI cards, the revenue line (history + forecast), the active models.
// Data: GET /v1/dashboard/overview.
import {
  api, draw, el, needModel, fillTable, fmtChange, fmtDate, fmtNumber, requireKey, showEmpty, showProblem,
  tableError, time,
} from "./app.js";

const TRAIN = "train it from the Models page (Train all) or run `custintel forecast`";

function kpi(id, value, note) {
  const card = document.getElementById(id);
  card.dataset.value = value == null ? "" : String(value);
  card.querySelector(".kpi-value").textContent = fmtNumber(value);
  card.querySelector(".kpi-note").textContent = note || "";
}

function periodNote(period, before) {
  if (!period || period.change == null) return before ? `no ${before} to compare` : "";
  return `${fmtChange(period.change)} vs ${before}`;
}

function fillKpis(data) {
  const missingValue = data.missing.includes("value");
  kpi("kpi-customers", data.customers, data.customers == null ? "no segmentation or value model yet" : "");
  const share = data.customers ? data.active_customers / data.customers : null;
  kpi(
    "kpi-active",
    data.active_customers,
    missingValue ? "needs a value model (probability of being active)"
      : `${(share * 100).toFixed(1)} % with P(active) ≥ 0.5`,
  );
  for (const period of data.revenue) {
    const before = `the ${period.days} days before`;
    kpi(`kpi-revenue-${period.days}`, period.revenue,
      period.revenue == null ? "needs a forecasting model (its sales history)" : periodNote(period, before));
  }
  const ahead = data.forecast_30;
  const days = ahead ? ahead.days : 30;
  document.querySelector("#kpi-forecast-30 h2").textContent = `Forecast, next ${days} days`;
  kpi("kpi-forecast-30", ahead ? ahead.revenue : null,
    ahead ? periodNote(ahead, `the last ${days} days`) : "needs a forecasting model");
  document.getElementById("freshness").textContent = data.freshness
    ? `Sales data up to ${data.freshness}.` : "";
}

function fillModels(data) {
  const rows = data.models.map((m) => el("tr", {},
    el("th", { scope: "row" }, m.capability),
    el("td", { class: "num" }, `v${m.version}`),
    el("td", {}, fmtDate(m.as_of)),
    el("td", {}, fmtDate(m.created_at))));
  fillTable(document.getElementById("model-versions"), rows,
    "No trained model yet: run `custintel demo`, or train from the Models page.");
}

async function revenueChart(container, data) {
  const series = data.revenue_series;
  if (!series || !series.history.length) {
    showEmpty(container, `No sales history to chart: the forecasting model is missing; ${TRAIN}.`);
    return;
  }
  document.getElementById("chart-revenue-title").textContent =
    `Daily revenue: last ${series.history.length} days and the next ${series.forecast.length} days' forecast`;
  const history = series.history.map((p) => [time(p.date), Math.round(p.value * 100) / 100]);
  const forecast = series.forecast.map((p) => [time(p.date), Math.round(p.value * 100) / 100]);
  await draw(container, {
    chart: { type: "line", height: 340 },
    series: [
      { name: "Revenue (history)", data: history },
      { name: "Forecast", data: forecast },
    ],
    stroke: { width: [1.5, 2.5], dashArray: [0, 5] },
    xaxis: { type: "datetime" },
    yaxis: { labels: { formatter: (v) => fmtNumber(v) } },
    tooltip: { x: { format: "yyyy-MM-dd" } },
  }, { series: 2, points: history.length });
}

async function main() {
  if (!requireKey()) return;
  const container = document.getElementById("chart-revenue");
  let data;
  try {
    await needModel("forecasting", "segmentation", "value");
    data = await api("/v1/dashboard/overview");
  } catch (error) {
    showProblem(container, error);
    tableError(document.getElementById("model-versions"), error);
    for (const card of document.querySelectorAll(".kpi .kpi-value")) card.textContent = "–";
    return;
  }
  fillKpis(data);
  fillModels(data);
  try {
    await revenueChart(container, data);
  } catch (error) {
    showProblem(container, error);
  }
}

main();
