// One customer: segment, predictions, the churn factors in words.
// Data: GET /v1/customers/{customer_id}
import { api, el, needModel, fmtDate, fmtDecimal, fmtNumber, fmtPercent, requireKey, showCaveats, showNote } from "./app.js";

const status = document.getElementById("customer-status");

function fact(label, value) {
  return el("div", {}, el("dt", {}, label), el("dd", {}, value));
}

// "1 day", "31 days".
function days(count) {
  return `${fmtNumber(count)} ${count === 1 ? "day" : "days"}`;
}

function show(data) {
  document.getElementById("customer-id").textContent = data.customer_id;
  const s = data.segment;
  document.getElementById("customer-segment").textContent = s
    ? `${s.rfm_segment || "no segment"} (recency ${s.r_score ?? "–"}, frequency ${s.f_score ?? "–"}, `
      + `monetary ${s.m_score ?? "–"} out of 5)${s.cluster_name ? `; cluster: ${s.cluster_name}` : ""}`
    : "No segment: the segmentation model is not trained yet.";
  const history = document.getElementById("customer-history");
  if (s && s.frequency != null) {
    const average = s.frequency > 0 ? s.monetary / s.frequency : null;
    history.replaceChildren(
      fact("Customer for", days(s.tenure_days)),
      fact("Last order", `${days(s.recency_days)} ago`),
      fact("Orders so far", fmtNumber(s.frequency)),
      fact("Spent so far", fmtNumber(s.monetary)),
      fact("Average order", average == null ? "–" : fmtNumber(average)),
    );
  } else {
    history.replaceChildren(el("p", { class: "empty-state" }, "No purchase history: the segmentation model is not trained yet."));
  }
  const p = data.predictions;
  showCaveats(document.getElementById("customer-caveats"), data.caveats);
  const box = document.getElementById("customer-predictions");
  if (!p) {
    box.replaceChildren(el("p", { class: "empty-state" }, "No predictions: the value model has not scored this customer (train it from the Models page)."));
  } else {
    const categories = Object.entries(p.spend_by_category || {})
      .sort((a, b) => b[1] - a[1]).slice(0, 5)
      .map(([name, v]) => `${name} ${fmtNumber(v)}`).join(", ");
    box.replaceChildren(
      fact("Expected orders", fmtDecimal(p.expected_orders)),
      fact("Expected spend", fmtNumber(p.expected_spend)),
      fact("Lifetime value", fmtNumber(p.clv)),
      fact("Probability of being active", fmtPercent(p.p_active)),
      fact("Churn probability", `${fmtPercent(p.churn_probability)} (${p.churn_risk || "–"} risk)`),
      fact("Next order expected", fmtDate(p.next_order_date)),
      fact("Value tier", `${p.value_tier || "–"} (spend percentile ${fmtPercent(p.spend_percentile, 0)})`),
      ...(categories ? [fact("Expected spend by category", categories)] : []),
    );
  }
  const factors = document.getElementById("customer-factors");
  factors.replaceChildren(...(data.top_factors.length
    ? data.top_factors.map((f) => el("li", {}, f))
    : [el("li", { class: "muted" }, "No factors recorded for this customer.")]));
  showNote(document.getElementById("customer-factors-note"), data.factors_note);
}

async function main() {
  if (!requireKey()) return;
  const id = new URL(window.location.href).searchParams.get("id");
  const input = document.getElementById("customer-search-id");
  document.getElementById("customer-search").addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.assign(`/customer?id=${encodeURIComponent(input.value.trim())}`);
  });
  if (!id) {
    status.textContent = "Enter a customer id, or open one from the Customers page.";
    return;
  }
  input.value = id;
  document.getElementById("customer-id").textContent = id;
  try {
    await needModel("value", "segmentation");
    show(await api(`/v1/customers/${encodeURIComponent(id)}`));
    document.body.dataset.state = "ready";
  } catch (error) {
    status.className = error.status === 404 || error.status === 409 ? "empty-state" : "error-state";
    status.textContent = error.message;
    document.body.dataset.state = "error";
  }
}

main();
