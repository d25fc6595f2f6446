// Segments: donut, R x F heatmap, segment performance, projection, clusters, migration.
// Data: GET /v1/segments, /v1/dashboard/rfm-grid, /v1/dashboard/segment-performance,
// /v1/dashboard/projection, /v1/models?capability=segmentation, /v1/segments/migration.
import {
  PALETTE, api, draw, el, needModel, fillTable, fmtDecimal, fmtNumber, fmtPercent, requireKey, showEmpty,
  showProblem, tableError, withChart,
} from "./app.js";

const TRAIN = "train it from the Models page (Train all) or run `custintel segment`";

async function donut(container, segments) {
  const rows = segments.segments;
  if (!rows.some((s) => s.customers > 0)) {
    showEmpty(container, `No customer has a segment yet; ${TRAIN}.`);
    return;
  }
  await draw(container, {
    chart: { type: "donut", height: 340 },
    series: rows.map((s) => s.customers),
    labels: rows.map((s) => s.segment),
    dataLabels: { enabled: true, formatter: (v) => `${v.toFixed(0)} %` },
    stroke: { colors: ["#fff"] },
    tooltip: { y: { formatter: (v) => `${fmtNumber(v)} customers` } },
  }, { series: 1, points: rows.length });
}

async function heatmap(container) {
  await needModel("segmentation");
  const grid = await api("/v1/dashboard/rfm-grid");
  const total = grid.cells.reduce((sum, c) => sum + c.customers, 0);
  if (!total) {
    showEmpty(container, `No customer has recency and frequency scores yet; ${TRAIN}.`);
    return;
  }
  const revenue = new Map(grid.cells.map((c) => [`${c.r}:${c.f}`, c.revenue]));
  const series = grid.r_scores.map((r) => ({
    name: `R ${r}`,
    data: grid.f_scores.map((f) => ({
      x: `F ${f}`,
      y: grid.cells.find((c) => c.r === r && c.f === f).customers,
    })),
  }));
  await draw(container, {
    chart: { type: "heatmap", height: 340 },
    series,
    colors: [PALETTE[0]],
    dataLabels: { enabled: true, style: { colors: ["#111"] } },
    plotOptions: { heatmap: { shadeIntensity: 0.7, radius: 2 } },
    xaxis: { title: { text: "Frequency score (5 = most orders)" } },
    yaxis: { title: { text: "Recency score (5 = most recent)" } },
    tooltip: {
      y: {
        formatter: (value, { seriesIndex, dataPointIndex }) => {
          const key = `${grid.r_scores[seriesIndex]}:${grid.f_scores[dataPointIndex]}`;
          return `${fmtNumber(value)} customers, revenue ${fmtNumber(revenue.get(key))}`;
        },
      },
    },
  }, { series: series.length, points: series[0].data.length });
}

async function performance(container) {
  await needModel("segmentation");
  const data = await api("/v1/dashboard/segment-performance");
  const rows = data.segments;
  if (!rows.length) {
    showEmpty(container, `No segment has customers yet; ${TRAIN}.`);
    return;
  }
  const names = ["Customers", "Revenue", "Average order value", "Orders per customer"];
  const fields = ["customers", "revenue", "average_order_value", "orders_per_customer"];
  const series = names.map((name, i) => ({ name, data: rows.map((r) => r[fields[i]] ?? 0) }));
  await draw(container, {
    chart: { type: "bar", height: 380 },
    series,
    xaxis: { categories: rows.map((r) => r.segment) },
    plotOptions: { bar: { columnWidth: "80%" } },
    yaxis: [
      { seriesName: "Customers", title: { text: "Customers" }, labels: { formatter: fmtNumber } },
      { seriesName: "Revenue", opposite: true, title: { text: "Revenue" }, labels: { formatter: fmtNumber } },
      { seriesName: "Average order value", show: false, labels: { formatter: fmtDecimal } },
      { seriesName: "Orders per customer", show: false, labels: { formatter: fmtDecimal } },
    ],
    tooltip: { shared: true, intersect: false },
  }, { series: series.length, points: rows.length });
}

async function projection(container) {
  await needModel("segmentation");
  const data = await api("/v1/dashboard/projection");
  if (!data.points.length) {
    showEmpty(container, `No customer has a cluster and a 2-D projection yet; ${TRAIN}.`);
    return;
  }
  const series = data.clusters.filter((c) => c.sampled > 0).map((c) => ({
    name: c.name || `Cluster ${c.cluster}`,
    data: data.points.filter((p) => p.cluster === c.cluster).map((p) => [p.x, p.y]),
  }));
  await draw(container, {
    chart: { type: "scatter", height: 360, zoom: { enabled: false } },
    series,
    markers: { size: 3, strokeWidth: 0 },
    xaxis: { type: "numeric", tickAmount: 6, labels: { formatter: (v) => Number(v).toFixed(1) } },
    yaxis: { labels: { formatter: (v) => Number(v).toFixed(1) } },
    tooltip: { x: { show: false } },
  }, { series: series.length, points: series[0].data.length });
}

function profiles(segments) {
  const box = document.getElementById("cluster-profiles");
  const clusters = segments.clustering.clusters;
  if (!clusters.length) {
    box.dataset.state = "empty";
    box.replaceChildren(el("p", { class: "empty-state" },
      "No cluster profiles: the segmentation found no clusters (too few customers or features)."));
    return;
  }
  const why = segments.clustering.why
    ? el("p", { class: "muted" }, `${segments.clustering.method || "clustering"}, k = ${segments.clustering.k}: ${segments.clustering.why}`)
    : null;
  const cards = clusters.map((c, i) => el("article", { class: "profile", style: `border-color:${PALETTE[i % PALETTE.length]}` },
    el("h3", {}, c.name),
    el("p", {}, `${fmtNumber(c.size)} customers (${fmtPercent(c.share_customers)}), ${fmtPercent(c.share_revenue)} of revenue`),
    el("ul", {}, c.top_features.slice(0, 4).map((f) =>
      el("li", {}, `${f.feature.replaceAll("_", " ")}: ${f.direction}${f.std_diff == null ? "" : ` (${fmtDecimal(f.std_diff)} sd)`}`)))));
  box.replaceChildren(...[why, ...cards].filter(Boolean));
  box.dataset.state = "ready";
}

async function migration() {
  const table = document.getElementById("migration-table");
  try {
    const versions = await api("/v1/models?capability=segmentation");
    const dates = [...new Set(versions.map((v) => v.as_of).filter(Boolean))].sort();
    if (dates.length < 2) {
      fillTable(table, [], "No migration yet: it needs segmentations on two different dates "
        + `and there ${dates.length === 1 ? `is one (as of ${dates[0]})` : "is none"}. `
        + "Train again after new orders arrive (a scheduled training job does this).");
      return;
    }
    const [start, end] = dates.slice(-2);
    document.getElementById("migration-dates").textContent = `from ${start} to ${end}`;
    const data = await api(`/v1/segments/migration?start=${start}&end=${end}`);
    const rows = data.flows.map((f) => el("tr", {},
      el("td", {}, f.from_segment), el("td", {}, f.to_segment),
      el("td", { class: "num" }, fmtNumber(f.customers))));
    fillTable(table, rows, "No customer changed segment between the two dates.");
  } catch (error) {
    tableError(table, error);
  }
}

async function main() {
  if (!requireKey()) return;
  const segments = needModel("segmentation").then(() => api("/v1/segments"));
  const donutDone = withChart("chart-segments", async (c) => donut(c, await segments));
  const profilesDone = segments.then(profiles, (error) => {
    const box = document.getElementById("cluster-profiles");
    box.dataset.state = error.status === 409 ? "empty" : "error";
    box.replaceChildren(el("p", { class: error.status === 409 ? "empty-state" : "error-state" }, error.message));
  });
  await Promise.all([
    donutDone,
    profilesDone,
    withChart("chart-rfm-grid", heatmap),
    withChart("chart-segment-performance", performance),
    withChart("chart-projection", projection),
    migration(),
  ]);
}

main().catch((error) => showProblem(document.getElementById("chart-segments"), error));
