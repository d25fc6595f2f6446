// Models and jobs: versions with metrics and activation (admin), jobs with live
// progress, bulk upload and download.
// Data: GET /v1/models, POST /v1/models/{c}/{v}/activate, GET /v1/jobs, POST /v1/jobs,
// POST /v1/bulk, GET /v1/jobs/{id}, GET /v1/jobs/{id}/result?format=csv
import { api, el, fillTable, fmtDate, fmtNumber, requireKey, saveBlob, tableError } from "./app.js";

const RUNNING = new Set(["queued", "running"]);
const JOBS_EVERY_MS = 2000;
const BULK_EVERY_MS = 1000;
const modelsTable = document.getElementById("models-table");
const jobsTable = document.getElementById("jobs-table");
const modelsStatus = document.getElementById("models-status");
let jobsTimer = null;

function fixed(value, digits = 3) {
  return typeof value === "number" ? value.toFixed(digits) : "–";
}

// The measured accuracy each capability records, in a line: forecasting by split (its
// backtest MASE next to seasonal naive's), value by target (the chosen model and its
// validation error, flagged when the version lists the target's column among its
// caveats: its ranking of customers could be chance), anything else by its plain numbers.
function metricsText(metrics, caveats) {
  const entries = Object.entries(metrics || {});
  const splits = entries.filter(([, v]) => v && typeof v === "object" && "mase" in v);
  if (splits.length) {
    return splits
      .map(([name, v]) => `${name}: MASE ${fixed(v.mase, 2)} (naive ${fixed(v.floor_mase, 2)})`)
      .join("; ");
  }
  if (metrics && metrics.chosen && metrics.validation) {
    const measures = { spend: "rmse", orders: "rmse", churn: "roc_auc", next_order: "mae_days" };
    const columns = { spend: "expected_spend", orders: "expected_orders", churn: "churn_probability" };
    const atChance = new Set((caveats || []).map((c) => c.output));
    return Object.entries(metrics.chosen)
      .map(([target, model]) => {
        const measure = measures[target];
        const measured = metrics.validation[target] || {};
        const flag = atChance.has(columns[target]) ? " (no better than chance)" : "";
        return `${target.replace("_", " ")}: ${model} ${measure.replace("_", " ")} ${fixed(measured[measure], 3)}${flag}`;
      })
      .join("; ");
  }
  const shown = entries
    .filter(([, v]) => typeof v === "number")
    .slice(0, 4)
    .map(([k, v]) => `${k.replaceAll("_", " ")} ${Number.isInteger(v) || Math.abs(v) >= 100 ? fmtNumber(v) : v.toFixed(3)}`);
  return shown.join(", ") || "–";
}

async function activate(version) {
  modelsStatus.className = "status";
  modelsStatus.textContent = `Activating ${version.capability} version ${version.version}…`;
  try {
    await api(`/v1/models/${version.capability}/${version.version}/activate`, { method: "POST" });
    modelsStatus.textContent = `${version.capability} now serves version ${version.version}.`;
    await loadModels();
  } catch (error) {
    modelsStatus.className = "status error-state";
    modelsStatus.textContent = error.message;
  }
}

async function loadModels() {
  try {
    const versions = await api("/v1/models");
    const rows = versions.map((v) => el("tr", { "data-capability": v.capability, "data-version": v.version },
      el("th", { scope: "row" }, v.capability),
      el("td", { class: "num" }, `v${v.version}`),
      el("td", {}, v.active ? el("strong", { class: "badge" }, "active") : "–"),
      el("td", { class: "date" }, fmtDate(v.as_of)),
      el("td", { class: "date" }, fmtDate(v.created_at)),
      el("td", {}, metricsText(v.metrics, v.caveats)),
      el("td", {}, v.active ? "" : el("button", {
        type: "button",
        class: "activate",
        "aria-label": `Activate ${v.capability} version ${v.version}`,
        onclick: () => activate(v),
      }, "Activate"))));
    fillTable(modelsTable, rows, "No trained version yet: press Train all (admin key), or run `custintel demo`.");
  } catch (error) {
    tableError(modelsTable, error);
  }
}

function progress(job) {
  return el("span", { class: "progress" },
    el("progress", { max: 100, value: job.percent, "aria-label": `job ${job.id.slice(0, 8)} progress` }),
    ` ${job.percent} %`);
}

async function loadJobs() {
  clearTimeout(jobsTimer);
  let running = false;
  try {
    const jobs = await api("/v1/jobs?limit=20");
    running = jobs.some((j) => RUNNING.has(j.status));
    const rows = jobs.map((j) => el("tr", { "data-job": j.id, "data-status": j.status },
      el("td", {}, el("code", { title: j.id }, j.id.slice(0, 8))),
      el("td", {}, j.kind),
      el("td", {}, el("span", { class: `job job-${j.status}` }, j.status)),
      el("td", {}, progress(j)),
      el("td", {}, fmtDate(j.started_at || j.created_at)),
      el("td", {}, j.error || j.message || "")));
    fillTable(jobsTable, rows, "No job yet.");
  } catch (error) {
    tableError(jobsTable, error);
  }
  jobsTable.dataset.live = running ? "true" : "false";
  if (running) jobsTimer = setTimeout(loadJobs, JOBS_EVERY_MS);
}

async function trainAll() {
  modelsStatus.className = "status";
  try {
    const job = await api("/v1/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ kind: "train", capability: "all" }),
    });
    modelsStatus.textContent = `Training job ${job.id.slice(0, 8)} ${job.status}.`;
    loadJobs();
  } catch (error) {
    modelsStatus.className = "status error-state";
    modelsStatus.textContent = error.message;
  }
}

// -- bulk -------------------------------------------------------------------------------

const bulkStatus = document.getElementById("bulk-status");
const bulkDetail = document.getElementById("bulk-detail");
const bulkDownload = document.getElementById("bulk-download");
let bulkJob = null;

async function followBulk(id) {
  let job;
  try {
    job = await api(`/v1/jobs/${id}`);
  } catch (error) {
    bulkDetail.textContent = error.message;
    setTimeout(() => followBulk(id), BULK_EVERY_MS);
    return;
  }
  bulkStatus.textContent = job.status;
  bulkDetail.textContent = job.error || (RUNNING.has(job.status) ? `${job.percent} %` : job.message || "");
  if (RUNNING.has(job.status)) {
    setTimeout(() => followBulk(id), BULK_EVERY_MS);
    return;
  }
  loadJobs();
  if (job.status === "succeeded") {
    bulkJob = job.id;
    bulkDownload.href = `/v1/jobs/${job.id}/result?format=csv`;
    bulkDownload.hidden = false;
  }
}

async function upload(event) {
  event.preventDefault();
  const file = document.getElementById("bulk-file").files[0];
  bulkDownload.hidden = true;
  if (!file) {
    bulkDetail.textContent = "Choose a CSV or XLSX file first.";
    return;
  }
  const body = new FormData();
  body.append("file", file, file.name);
  bulkStatus.textContent = "uploading";
  bulkDetail.textContent = "";
  try {
    const job = await api("/v1/bulk", { method: "POST", body });
    bulkStatus.textContent = job.status;
    loadJobs();
    followBulk(job.id);
  } catch (error) {
    bulkStatus.textContent = "failed";
    bulkDetail.textContent = error.message;
  }
}

async function fetchAndSave(event, path, name) {
  event.preventDefault();
  try {
    saveBlob(await api(path, { headers: { Accept: "*/*" } }), name);
  } catch (error) {
    bulkDetail.textContent = error.message;
  }
}

function main() {
  if (!requireKey()) return;
  document.getElementById("train-all").addEventListener("click", trainAll);
  document.getElementById("bulk-form").addEventListener("submit", upload);
  bulkDownload.addEventListener("click", (event) => {
    if (bulkJob) fetchAndSave(event, `/v1/jobs/${bulkJob}/result?format=csv`, `custintel-scores-${bulkJob.slice(0, 8)}.csv`);
  });
  document.getElementById("bulk-template").addEventListener("click",
    (event) => fetchAndSave(event, "/v1/bulk/template", "custintel-bulk-template.csv"));
  loadModels();
  loadJobs();
}

main();
