// The trace of a run: its spans as a waterfall (nested by parent, bars placed by start and
// end relative to the run), totals at the top, and every attribute of a span on click.

import { api } from "./api.js";
import { $, clear, duration, h, json, money, number, short, when } from "./dom.js";

const KINDS = ["run", "step", "model", "tool", "approval", "attempt"];
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

export class Trace {
  constructor() {
    this.ids = null;
    this.selected = null;
    this.timer = null;
    this.openPolls = 0;
    $("#tr-refresh").addEventListener("click", () => this.load());
    $("#tr-waterfall").addEventListener("keydown", (event) => this.keydown(event));
  }

  reset() {
    clearTimeout(this.timer);
    this.ids = null;
    this.selected = null;
    this.openPolls = 0;
    for (const id of ["#tr-totals", "#tr-waterfall", "#tr-detail"]) $(id).hidden = true;
    $("#tr-title").textContent = "Trace";
  }

  async open(sessionId, runId) {
    if (sessionId && runId) {
      const changed = !this.ids || this.ids.sessionId !== sessionId || this.ids.runId !== runId;
      this.ids = { sessionId, runId };
      if (changed) {
        this.selected = null;
        this.openPolls = 0;
        for (const id of ["#tr-totals", "#tr-waterfall", "#tr-detail"]) $(id).hidden = true;
        $("#tr-title").textContent = `Trace of run ${short(runId)}`;
      }
    }
    $("#tr-hint").hidden = Boolean(this.ids);
    $("#tr-refresh").hidden = !this.ids;
    if (this.ids) await this.load();
  }

  async load() {
    clearTimeout(this.timer);
    if (!this.ids) return;
    const { sessionId, runId } = this.ids;
    const base = `/sessions/${encodeURIComponent(sessionId)}/runs/${encodeURIComponent(runId)}`;
    const [trace, run] = await Promise.all([api(`${base}/trace`), api(base)]);
    if (!this.ids || this.ids.runId !== runId) return;
    this.render(trace, run);
    // A run that just ended may still be closing its spans: look again for a little while.
    const closing = (trace.spans || []).some((span) => !span.end) && this.openPolls++ < 20;
    if ((!TERMINAL.has(run.status) || closing) && !$("#view-trace").hidden) {
      this.timer = setTimeout(() => this.load().catch(() => {}), 1000);
    }
  }

  render(trace, run) {
    $("#tr-title").textContent = `Trace of run ${short(trace.run_id)}`;
    const spans = trace.spans || [];
    const now = Date.now() / 1000;
    const root = spans.find((span) => span.kind === "run" && !span.parent_id);
    const start = root ? root.start : Math.min(...spans.map((span) => span.start), run.created_at);
    const end = Math.max(...spans.map((span) => span.end || now), start + 0.001);
    this.renderTotals(trace, run, spans, end - start);
    this.renderWaterfall(tree(spans), start, end - start, now);
    const selected = spans.find((span) => span.span_id === this.selected);
    if (selected) this.showSpan(selected, start);
    else $("#tr-detail").hidden = true;
  }

  renderTotals(trace, run, spans, total) {
    const models = spans.filter((span) => span.kind === "model");
    const tools = spans.filter((span) => span.kind === "tool");
    const usage = run.usage || {};
    const totals = $("#tr-totals");
    totals.hidden = false;
    clear(totals,
      metric("Status", h("span.badge", { dataset: { status: run.status }, text: run.status })),
      metric("Agent", run.agent),
      metric("Started", when(run.created_at)),
      metric("Duration", duration(total)),
      metric("Model calls", number(usage.model_calls ?? models.length)),
      metric("Tool calls", number(tools.length)),
      metric("Tokens in / out", `${number(usage.input_tokens)} / ${number(usage.output_tokens)}`),
      usage.cached_tokens ? metric("Cached tokens", number(usage.cached_tokens)) : null,
      usage.reasoning_tokens ? metric("Reasoning tokens", number(usage.reasoning_tokens)) : null,
      metric("Cost", money(usage.cost_usd)),
      metric("Session", h("a", { href: `#/sessions/${run.session_id}` }, h("code", { text: short(run.session_id) }))));
  }

  renderWaterfall(roots, start, total, now) {
    const waterfall = $("#tr-waterfall");
    waterfall.hidden = false;
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((at) => {
      const tick = h("span.tick", { text: at ? duration(total * at) : "0" });
      tick.style.left = `${at * 100}%`;
      return tick;
    });
    const rows = [];
    const walk = (node, depth) => {
      rows.push(this.row(node.span, depth, start, total, now));
      for (const child of node.children) walk(child, depth + 1);
    };
    for (const node of roots) walk(node, 0);
    clear(waterfall,
      h("div.wf-legend.small", { "aria-hidden": "true" }, KINDS.map((kind) =>
        h("span.legend-item", { dataset: { kind } }, h("span.swatch"), kind))),
      h("div.wf-axis", { "aria-hidden": "true" }, h("span.wf-name", { text: "Span" }),
        h("span.wf-track", {}, ticks)),
      h("ol.wf-rows", { "aria-label": "Spans, nested by parent" }, rows));
  }

  row(span, depth, start, total, now) {
    const end = span.end || now;
    const offset = span.start - start;
    const bar = h("span.wf-bar");
    bar.style.left = `${clamp((offset / total) * 100)}%`;
    bar.style.width = `${Math.max(clamp(((end - span.start) / total) * 100), 0.4)}%`;
    const label = h("span.wf-label", {}, h("span.wf-kind", { text: span.kind }),
      h("span.wf-title", { text: span.name }));
    label.style.setProperty("--depth", depth);
    const button = h("button.wf-row", {
      type: "button",
      dataset: { span: span.span_id, kind: span.kind, status: span.status || (span.end ? "ok" : "open") },
      "aria-pressed": span.span_id === this.selected ? "true" : "false",
      "aria-label": `${span.kind} ${span.name}, ${span.end ? duration(end - span.start) : "still open"}, ${span.status || ""}`,
      onClick: () => this.showSpan(span, start),
    }, label, h("span.wf-track", {}, bar),
    h("span.wf-dur", { text: span.end ? duration(end - span.start) : "open" }));
    return h("li", {}, button);
  }

  showSpan(span, start) {
    this.selected = span.span_id;
    for (const row of document.querySelectorAll(".wf-row")) {
      row.setAttribute("aria-pressed", row.dataset.span === span.span_id ? "true" : "false");
    }
    const detail = $("#tr-detail");
    detail.hidden = false;
    const attributes = Object.entries(span.attributes || {});
    clear(detail,
      h("div.detail-head", {},
        h("h2", {}, h("span.wf-kind", { dataset: { kind: span.kind }, text: span.kind }), " ", span.name),
        h("button.quiet", { type: "button", "aria-label": "Close span details",
          onClick: () => { detail.hidden = true; this.selected = null; } }, "×")),
      h("dl.facts", {},
        fact("Status", h("span.badge", { dataset: { status: span.status || "open" }, text: span.status || "open" })),
        fact("Starts at", `+${duration(span.start - start)}`),
        fact("Duration", span.end ? duration(span.end - span.start) : "still open"),
        fact("Span id", h("code", { text: span.span_id })),
        fact("Parent", h("code", { text: span.parent_id || "–" }))),
      span.error ? [h("h3", { text: "Error" }), h("pre.error-block", { text: json(span.error) })] : null,
      h("h3", { text: "Attributes" }),
      attributes.length
        ? h("table.table.attrs", {}, h("tbody", {}, attributes.map(([name, value]) => h("tr", {},
          h("th", { scope: "row", text: name }),
          h("td", {}, isObject(value) ? h("pre", { text: json(value) }) : attribute(name, value))))))
        : h("p.muted", { text: "No attributes." }));
  }

  keydown(event) {
    if (!["ArrowDown", "ArrowUp", "Home", "End"].includes(event.key)) return;
    const rows = [...document.querySelectorAll(".wf-row")];
    const index = rows.indexOf(document.activeElement);
    if (index < 0) return;
    event.preventDefault();
    const next = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: rows.length - 1 }[event.key];
    rows[Math.max(0, Math.min(rows.length - 1, next))].focus();
  }
}

/** Spans nested by parent (orphans under the run), children by start. */
function tree(spans) {
  const nodes = new Map(spans.map((span) => [span.span_id, { span, children: [] }]));
  const roots = [];
  const rootRun = spans.find((span) => span.kind === "run" && !span.parent_id);
  for (const node of nodes.values()) {
    const parent = node.span.parent_id && nodes.get(node.span.parent_id);
    if (parent) parent.children.push(node);
    else if (rootRun && node.span !== rootRun) nodes.get(rootRun.span_id).children.push(node);
    else roots.push(node);
  }
  const order = (a, b) => a.span.start - b.span.start || KINDS.indexOf(a.span.kind) - KINDS.indexOf(b.span.kind);
  const sort = (list) => {
    list.sort(order);
    for (const node of list) sort(node.children);
  };
  sort(roots);
  return roots;
}

function metric(name, value) {
  return h("div.total", {}, h("dt", { text: name }), h("dd", {}, value));
}

function fact(name, value) {
  return [h("dt", { text: name }), h("dd", {}, value)];
}

function clamp(percent) {
  return Math.max(0, Math.min(100, percent));
}

function isObject(value) {
  return value !== null && typeof value === "object";
}

function attribute(name, value) {
  if (value === null || value === undefined) return "–";
  if (name === "cost_usd") return money(value);
  if (name.endsWith("_ms") && typeof value === "number") return `${value.toFixed(1)} ms`;
  if (name.endsWith("_tokens")) return number(value);
  return String(value);
}
