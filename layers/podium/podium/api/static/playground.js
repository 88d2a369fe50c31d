// The playground: pick an agent, fill its variables, chat with live streaming. Each input is
// `POST /sessions/{id}/runs`; its events are followed over fetch (SSE) with the key.

import { api, followEvents } from "./api.js";
import { $, clear, h, toast } from "./dom.js";
import { Turn } from "./turn.js";

export class Playground {
  constructor(state) {
    this.state = state;
    this.agent = null;
    this.detail = null;
    this.toolKinds = new Map();
    this.sessionId = null;
    this.running = null;
    this.loading = null;
    this.log = $("#pg-log");
    this.input = $("#pg-input");
    $("#pg-agent").addEventListener("change", () => {
      this.selectAgent($("#pg-agent").value).catch((error) => toast(error.message));
    });
    $("#pg-new").addEventListener("click", () => this.newChat(true));
    $("#pg-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    $("#pg-cancel").addEventListener("click", () => this.cancel());
  }

  /** Show the playground; with a session id, continue that session. */
  async open(sessionId) {
    this.fillAgents();
    if (sessionId && sessionId !== this.sessionId) {
      await this.loadSession(sessionId);
    } else if (!this.agent) {
      await this.selectAgent($("#pg-agent").value);
    }
    if (!this.running) this.input.focus();
  }

  reset() {
    if (this.running) this.running.controller.abort();
    this.running = null;
    this.agent = null;
    this.detail = null;
    this.ticket = (this.ticket || 0) + 1;
    this.loading = null;
    this.sessionId = null;
    $("#pg-agent").replaceChildren();
    this.clearLog();
  }

  fillAgents() {
    const select = $("#pg-agent");
    if (select.options.length) return;
    for (const agent of this.state.agents || []) {
      select.append(h("option", { value: agent.name, text: agent.name }));
    }
  }

  /** Load an agent's definition; the latest selection wins, and `send` waits for it. */
  selectAgent(name, { keepSession = false } = {}) {
    if (!name) return Promise.resolve();
    $("#pg-agent").value = name;
    const ticket = (this.ticket = (this.ticket || 0) + 1);
    this.loading = (async () => {
      const detail = await api(`/agents/${encodeURIComponent(name)}`);
      if (ticket !== this.ticket) return;
      this.agent = name;
      this.detail = detail;
      this.toolKinds = new Map(detail.tools.map((tool) => [tool.name, tool.kind]));
      $("#pg-agent-desc").textContent = detail.description || "";
      this.renderVariables();
      clear($("#pg-tools"), detail.tools.map((tool) => h("li", {},
        h("code", { text: tool.name }),
        tool.kind === "client" ? h("span.tag", { text: "client" }) : null,
        tool.approval ? h("span.tag", { text: "approval" }) : null)));
      if (!keepSession) this.newChat(false);
    })();
    return this.loading;
  }

  renderVariables() {
    const form = $("#pg-vars");
    // what was typed survives a re-render for the same agent (a late or repeated load)
    const typed = new Map();
    if (form.dataset.agent === this.agent) {
      for (const field of form.querySelectorAll("input[name]")) {
        typed.set(field.name, field.type === "checkbox" ? field.checked : field.value);
      }
    }
    form.dataset.agent = this.agent;
    const variables = Object.entries(this.detail.variables || {});
    clear(form, variables.length ? h("p.label", { text: "Variables" }) : null,
      variables.map(([name, spec]) => {
        const id = `var-${name}`;
        const hint = spec.description ? h("span.hint.small.muted", { id: `${id}-hint`, text: spec.description }) : null;
        const attrs = { id, name, required: Boolean(spec.required), "aria-describedby": hint ? `${id}-hint` : null };
        let field;
        const kept = typed.get(name);
        if (spec.type === "boolean") {
          field = h("input", { ...attrs, type: "checkbox",
            checked: kept === undefined ? spec.default === true : kept === true });
        } else {
          const initial = spec.default === undefined || spec.default === null ? "" : String(spec.default);
          field = h("input", { ...attrs, type: spec.type === "string" ? "text" : "number",
            step: spec.type === "number" ? "any" : null,
            value: kept === undefined ? initial : String(kept) });
        }
        return h("div.var", {}, h("label", { for: id },
          name, spec.required ? h("span.required", { "aria-hidden": "true", text: " *" }) : null),
        field, hint);
      }));
  }

  variables() {
    const values = {};
    for (const [name, spec] of Object.entries(this.detail.variables || {})) {
      const field = $(`#var-${CSS.escape(name)}`);
      if (!field) continue;
      if (spec.type === "boolean") values[name] = field.checked;
      else if (field.value === "") continue;
      else values[name] = spec.type === "string" ? field.value : Number(field.value);
    }
    return values;
  }

  lockVariables(locked) {
    for (const field of $("#pg-vars").querySelectorAll("input")) field.disabled = locked;
  }

  newChat(focus) {
    if (this.running) this.running.controller.abort();
    this.running = null;
    this.sessionId = null;
    $("#pg-session").textContent = "new";
    this.lockVariables(false);
    this.clearLog();
    this.setRunning(false);
    if (window.location.hash.startsWith("#/playground/")) {
      window.history.replaceState(null, "", "#/playground");
    }
    if (focus) this.input.focus();
  }

  clearLog() {
    clear(this.log, h("p.muted.empty", { text: "Pick an agent and send a message." }));
  }

  setSession(sessionId) {
    this.sessionId = sessionId;
    $("#pg-session").textContent = sessionId;
    this.lockVariables(true);
    window.history.replaceState(null, "", `#/playground/${sessionId}`);
  }

  setRunning(running) {
    $("#pg-cancel").hidden = !running;
    $("#pg-send").disabled = running;
    this.log.setAttribute("aria-busy", running ? "true" : "false");
  }

  scroll() {
    const { log } = this;
    if (log.scrollHeight - log.scrollTop - log.clientHeight < 160) log.scrollTop = log.scrollHeight;
  }

  userBubble(input) {
    const text = typeof input === "string" ? input
      : (input || []).map((part) => part.text || "").join(" ");
    const empty = this.log.querySelector(".empty");
    if (empty) empty.remove();
    this.log.append(h("article.turn.user", { "aria-label": "You" }, h("div.text", { text })));
  }

  turn(runId) {
    const turn = new Turn({ sessionId: this.sessionId, runId, toolKinds: this.toolKinds,
      onChange: () => this.scroll() });
    this.log.append(turn.node);
    this.scroll();
    return turn;
  }

  async send() {
    if (this.loading) await this.loading.catch(() => {});
    const text = this.input.value.trim();
    if (!text || this.running || !this.agent) return;
    const form = $("#pg-vars");
    if (!this.sessionId && !form.reportValidity()) return;
    $("#pg-send").disabled = true;
    try {
      if (!this.sessionId) {
        const session = await api("/sessions", { method: "POST",
          body: { agent: this.agent, variables: this.variables() } });
        this.setSession(session.session_id);
      }
      const accepted = await api(`/sessions/${this.sessionId}/runs`,
        { method: "POST", body: { input: text } });
      this.input.value = "";
      this.userBubble(text);
      const turn = this.turn(accepted.run_id);
      if (accepted.disposition === "queued") turn.note("Queued behind the active run.", "notice");
      await this.follow(turn, accepted.events_url);
    } catch (error) {
      if (error.status !== 401) toast(error.message);
      $("#pg-send").disabled = Boolean(this.running);
    }
  }

  async follow(turn, eventsUrl) {
    const controller = new AbortController();
    this.running = { turn, controller };
    this.setRunning(true);
    $("#pg-status").textContent = "The agent is answering…";
    try {
      await followEvents(eventsUrl, (event) => turn.handle(event), { signal: controller.signal });
      $("#pg-status").textContent = `Run ${turn.status.textContent}.`;
    } catch (error) {
      if (!controller.signal.aborted) {
        turn.note(`Lost the stream: ${error.message}`, "error-line");
        if (error.status !== 401) toast(error.message);
      }
    } finally {
      if (this.running && this.running.turn === turn) {
        this.running = null;
        this.setRunning(false);
      }
    }
  }

  async cancel() {
    if (!this.running) return;
    const { turn } = this.running;
    $("#pg-cancel").disabled = true;
    try {
      await api(`/sessions/${this.sessionId}/runs/${turn.runId}/cancel`, { method: "POST" });
    } catch (error) {
      toast(`Could not cancel: ${error.message}`);
    } finally {
      $("#pg-cancel").disabled = false;
    }
  }

  /** Continue a session: its runs are replayed from the event log, the last one followed. */
  async loadSession(sessionId) {
    const session = await api(`/sessions/${encodeURIComponent(sessionId)}`);
    await this.selectAgent(session.agent, { keepSession: true });
    this.newChat(false);
    for (const [name, value] of Object.entries(session.variables || {})) {
      const field = $(`#var-${CSS.escape(name)}`);
      if (!field) continue;
      if (field.type === "checkbox") field.checked = Boolean(value);
      else field.value = String(value);
    }
    this.setSession(session.session_id);
    const runs = [];
    let cursor = null;
    do {
      const page = await api(`/sessions/${sessionId}/runs?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      runs.push(...page.items);
      cursor = page.cursor;
    } while (cursor);
    runs.sort((a, b) => a.created_at - b.created_at);
    for (const run of runs) {
      if (this.sessionId !== sessionId) return;
      this.userBubble(run.input);
      const turn = this.turn(run.run_id);
      if (["succeeded", "failed", "cancelled"].includes(run.status)) {
        await followEvents(run.events_url, (event) => turn.handle(event));
      } else {
        this.follow(turn, run.events_url);
      }
    }
  }
}
