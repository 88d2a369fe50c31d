// Sessions: newest first, filtered by agent and by the date they were last updated, paged
// with the API's cursor. A session shows its messages and its runs, with links to traces.

import { api, query } from "./api.js";
import { $, clear, h, json, money, number, short, when } from "./dom.js";
import { usageLine } from "./turn.js";

const PAGE = 25;

export class Sessions {
  constructor(state) {
    this.state = state;
    this.cursor = null;
    this.filters = {};
    this.selected = null;
    $("#ss-filter").addEventListener("submit", (event) => {
      event.preventDefault();
      this.search();
    });
    $("#ss-filter").addEventListener("reset", () => setTimeout(() => this.search(), 0));
    $("#ss-more").addEventListener("click", () => this.more());
  }

  /** Forget what another key could see (after signing out). */
  reset() {
    this.loaded = false;
    this.selected = null;
    this.cursor = null;
    $("#ss-table tbody").replaceChildren();
    $("#ss-detail").hidden = true;
  }

  async open(sessionId) {
    const select = $("#ss-agent");
    if (!select.options.length) {
      select.append(h("option", { value: "", text: "Any agent" }),
        ...(this.state.agents || []).map((agent) => h("option", { value: agent.name, text: agent.name })));
    }
    if (!sessionId || !this.loaded) await this.search();
    if (sessionId) await this.show(sessionId);
    else $("#ss-detail").hidden = true;
  }

  readFilters() {
    const day = (value, end) => {
      if (!value) return undefined;
      const [year, month, date] = value.split("-").map(Number);
      const start = new Date(year, month - 1, date).getTime() / 1000;
      return end ? start + 86400 : start;
    };
    return {
      agent: $("#ss-agent").value || undefined,
      updated_after: day($("#ss-from").value, false),
      updated_before: day($("#ss-to").value, true),
    };
  }

  async search() {
    this.filters = this.readFilters();
    this.cursor = null;
    $("#ss-table tbody").replaceChildren();
    await this.more();
  }

  async more() {
    const page = await api(`/sessions${query({ ...this.filters, limit: PAGE, cursor: this.cursor })}`);
    const body = $("#ss-table tbody");
    for (const session of page.items) body.append(this.row(session));
    this.cursor = page.cursor;
    this.loaded = true;
    $("#ss-more").hidden = !page.cursor;
    $("#ss-empty").hidden = body.children.length > 0;
  }

  row(session) {
    const open = () => {
      window.location.hash = `#/sessions/${session.session_id}`;
    };
    const link = h("a", { href: `#/sessions/${session.session_id}`, title: session.session_id },
      h("code", { text: short(session.session_id) }));
    return h("tr", { dataset: { session: session.session_id, agent: session.agent },
      "aria-selected": session.session_id === this.selected ? "true" : null, onClick: (event) => {
        if (event.target.closest("a")) return;
        open();
      } },
    h("td", {}, link, session.active_run ? h("span.tag.live", { text: "running" }) : null),
    h("td", { text: session.agent }),
    h("td", { text: when(session.updated_at) }),
    h("td.num", { text: number(session.usage.input_tokens + session.usage.output_tokens) }),
    h("td.num", { text: money(session.usage.cost_usd) }));
  }

  async show(sessionId) {
    this.selected = sessionId;
    for (const row of document.querySelectorAll("#ss-table tbody tr")) {
      if (row.dataset.session === sessionId) row.setAttribute("aria-selected", "true");
      else row.removeAttribute("aria-selected");
    }
    const id = encodeURIComponent(sessionId);
    const [session, messages, runs] = await Promise.all([
      api(`/sessions/${id}`), api(`/sessions/${id}/messages?limit=500`),
      api(`/sessions/${id}/runs?limit=200`)]);
    const detail = $("#ss-detail");
    detail.hidden = false;
    runs.items.sort((a, b) => a.created_at - b.created_at);
    clear(detail,
      h("div.detail-head", {},
        h("h2", {}, "Session ", h("code", { text: session.session_id })),
        h("a.button", { href: `#/playground/${session.session_id}` }, "Continue in playground")),
      h("dl.facts", {},
        fact("Agent", session.agent), fact("Created", when(session.created_at)),
        fact("Updated", when(session.updated_at)),
        fact("Variables", Object.entries(session.variables || {}).map(([k, v]) => `${k}=${v}`).join(", ") || "–"),
        fact("Usage", usageLine(session.usage))),
      h("h3", { text: "Runs" }),
      h("table.table.runs", {},
        h("thead", {}, h("tr", {}, ["Run", "Status", "Started", "Tokens", "Cost", ""].map(
          (label) => h("th", { scope: "col", text: label })))),
        h("tbody", {}, runs.items.map((run) => h("tr", { dataset: { run: run.run_id } },
          h("td", {}, h("code", { title: run.run_id, text: short(run.run_id) })),
          h("td", {}, h("span.badge", { dataset: { status: run.status }, text: run.status })),
          h("td", { text: when(run.created_at) }),
          h("td.num", { text: number(run.usage.input_tokens + run.usage.output_tokens) }),
          h("td.num", { text: money(run.usage.cost_usd) }),
          h("td", {}, h("a.trace-link", { href: `#/trace/${session.session_id}/${run.run_id}` }, "Trace")))))),
      h("h3", { text: "Messages" }),
      h("ol.messages", {}, messages.items.map(message)),
      messages.cursor ? h("p.small.muted", { text: "Showing the first 500 messages." }) : null);
  }
}

function fact(name, value) {
  return [h("dt", { text: name }), h("dd", { text: value })];
}

function message(item) {
  const body = [];
  if (item.content !== null && item.content !== undefined && item.content !== "") {
    body.push(h("div.text", { text: typeof item.content === "string" ? item.content : json(item.content) }));
  }
  for (const call of item.tool_calls || []) {
    const fn = call.function || {};
    body.push(h("div.call.small", {}, "→ ", h("code", { text: fn.name }), " ",
      h("code.muted", { text: fn.arguments || "" })));
  }
  const who = item.role === "tool" ? `tool ${item.name || ""}` : item.role;
  return h(`li.message.${item.role}`, {}, h("span.role", { text: who }), body);
}
