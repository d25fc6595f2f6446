// Forecast: history + forecast with 80 % / 95 % bands for one series, and its accuracy.
// Data: GET /v1/forecasts?timeframe=&horizon=[&by=category]
import { api, draw, el, needModel, fmtDecimal, fmtNumber, requireKey, showEmpty, showProblem, time } from "./app.js";

const HISTORY = { daily: 180, weekly: 104, monthly: 60 }; // periods of history drawn
const COLORS = { band95: "#E69F00", band80: "#E69F00", history: "#0072B2", forecast: "#D55E00" };

const controls = {
  timeframe: document.getElementById("timeframe"),
  horizon: document.getElementById("horizon"),
  by: document.getElementById("by"),
  series: document.getElementById("series"),
};
const container = document.getElementById("chart-forecast");
let answer = null;
let request = 0;

function round(v) {
  return v == null ? null : Math.round(v * 100) / 100;
}

function fillSeriesOptions(data) {
  const names = data.series.map((s) => s.series);
  names.sort((a, b) => (a === "total" ? -1 : b === "total" ? 1 : a.localeCompare(b)));
  const keep = names.includes(controls.series.value) ? controls.series.value : names[0];
  controls.series.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
  controls.series.value = keep;
  controls.series.disabled = names.length < 2;
}

function describe(series, data) {
  document.getElementById("forecast-model").textContent = series.model
    ? `${series.model} (forecasting version ${data.model.version}${data.model.as_of ? `, data as of ${data.model.as_of}` : ""})`
    : "–";
  const test = series.backtest;
  const m = test ? test.metrics || {} : {};
  document.getElementById("forecast-accuracy").textContent = test && m.mase != null
    ? `MASE ${fmtDecimal(m.mase)} vs ${fmtDecimal(m.floor_mase)} for ${m.floor_model || "seasonal naive"}`
      + ` (backtest over ${test.horizon} ${data.timeframe} periods)`
    : "no backtest recorded for this series";
  document.getElementById("forecast-label").textContent = `· ${series.series}, ${data.timeframe}`;
}

async function render() {
  const data = answer;
  const series = data.series.find((s) => s.series === controls.series.value) || data.series[0];
  if (!series || !series.forecast.length) {
    showEmpty(container, "This forecast has no future periods: retrain forecasting with a horizon (Models page).");
    return;
  }
  describe(series, data);
  const history = series.history.slice(-HISTORY[data.timeframe]).map((p) => ({ x: time(p.date), y: round(p.value) }));
  const forecast = series.forecast.map((p) => ({ x: time(p.date), y: round(p.forecast) }));
  const band = (lo, hi) => series.forecast.filter((p) => p[lo] != null && p[hi] != null)
    .map((p) => ({ x: time(p.date), y: [round(p[lo]), round(p[hi])] }));
  const drawn = [];
  const b95 = band("lower_95", "upper_95");
  const b80 = band("lower_80", "upper_80");
  if (b95.length) drawn.push({ s: { type: "rangeArea", name: "95 % interval", data: b95 }, c: COLORS.band95, o: 0.18, w: 0 });
  if (b80.length) drawn.push({ s: { type: "rangeArea", name: "80 % interval", data: b80 }, c: COLORS.band80, o: 0.38, w: 0 });
  drawn.push({ s: { type: "line", name: "History", data: history }, c: COLORS.history, o: 1, w: 2 });
  drawn.push({ s: { type: "line", name: "Forecast", data: forecast }, c: COLORS.forecast, o: 1, w: 2.5 });
  await draw(container, {
    chart: { type: "rangeArea", height: 380 },
    series: drawn.map((d) => d.s),
    colors: drawn.map((d) => d.c),
    fill: { opacity: drawn.map((d) => d.o) },
    stroke: { curve: "straight", width: drawn.map((d) => d.w), dashArray: drawn.map((d) => (d.s.name === "Forecast" ? 5 : 0)) },
    markers: { size: 0 },
    xaxis: { type: "datetime" },
    yaxis: { labels: { formatter: (v) => fmtNumber(v) } },
    tooltip: { shared: true, x: { format: "yyyy-MM-dd" } },
    legend: { position: "bottom" },
  }, { series: drawn.length, points: forecast.length });
}

async function load() {
  const mine = ++request;
  container.dataset.state = "loading";
  const query = new URLSearchParams({ timeframe: controls.timeframe.value, horizon: controls.horizon.value });
  if (controls.by.value) query.set("by", controls.by.value);
  try {
    await needModel("forecasting");
    const data = await api(`/v1/forecasts?${query}`);
    if (mine !== request) return; // a newer choice is on its way
    answer = data;
    fillSeriesOptions(data);
    await render();
  } catch (error) {
    if (mine !== request) return;
    document.getElementById("forecast-model").textContent = "–";
    document.getElementById("forecast-accuracy").textContent = "–";
    showProblem(container, error);
  }
}

function main() {
  if (!requireKey()) return;
  for (const name of ["timeframe", "horizon", "by"]) controls[name].addEventListener("change", load);
  controls.series.addEventListener("change", () => {
    if (answer) render().catch((error) => showProblem(container, error));
  });
  load();
}

main();
