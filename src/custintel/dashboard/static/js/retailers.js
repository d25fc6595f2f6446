// Retailers (B2B): demographic clusters by sales volume, when the active segmentation
// recorded demographic clusters; otherwise the empty state says how to get them.
// Data: GET /v1/models?capability=segmentation, GET /v1/models/segmentation/{version}
import { activeCapabilities, api, draw, el, fmtNumber, fmtPercent, requireKey, showEmpty, withChart } from "./app.js";

const LEVELS = ["low", "medium", "high"];
const COLORS = ["#56B4E9", "#E69F00", "#D55E00"];
const NO_DATA = "This shop has no demographic data: demographic clusters need a customers table "
  + "with demographic columns (e.g. the b2b mapping preset's retailers) and a segmentation "
  + "trained on it.";

function profiles(info) {
  const box = document.getElementById("demographic-profiles");
  const rows = info.profiles || [];
  if (!rows.length) {
    box.replaceChildren(el("p", { class: "empty-state" }, NO_DATA));
    return;
  }
  box.replaceChildren(...rows.map((p) => el("article", { class: "profile" },
    el("h3", {}, String(p.demo_cluster_name ?? p.name ?? p.index ?? "cluster")),
    el("ul", {}, Object.entries(p)
      .filter(([k]) => !["demo_cluster_name", "name", "index"].includes(k))
      .slice(0, 6)
      .map(([k, v]) => el("li", {}, `${k.replaceAll("_", " ")}: ${typeof v !== "number" ? v : k.startsWith("share") ? fmtPercent(v) : fmtNumber(v)}`))))));
}

async function chart(container) {
  if (!(await activeCapabilities()).has("segmentation")) {
    showEmpty(container, NO_DATA);
    profiles({});
    return;
  }
  const versions = await api("/v1/models?capability=segmentation");
  const current = versions.find((v) => v.active);
  const detail = current ? await api(`/v1/models/segmentation/${current.version}`) : null;
  const info = detail && (detail.summary.demographic || detail.summary.demographics);
  const crosstab = info && info.crosstab;
  if (!crosstab || !Object.keys(crosstab).length) {
    // the segmentation run says why it found no demographic clusters, when it tried
    showEmpty(container, info && info.missing ? `No demographic clusters: ${info.missing}.` : NO_DATA);
    profiles({});
    return;
  }
  const clusters = Object.keys(crosstab);
  const series = LEVELS.map((level) => ({
    name: `${level} volume`,
    data: clusters.map((c) => Number(crosstab[c][level] || 0)),
  }));
  await draw(container, {
    chart: { type: "bar", height: 340, stacked: true },
    series,
    colors: COLORS,
    xaxis: { categories: clusters },
    yaxis: { title: { text: "Retailers" }, labels: { formatter: (v) => fmtNumber(v) } },
  }, { series: series.length, points: clusters.length });
  profiles(info);
}

if (requireKey()) withChart("chart-demographics", chart);
