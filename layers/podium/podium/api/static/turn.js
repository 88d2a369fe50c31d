// One run in the conversation: renders its UI message stream parts as they arrive — text as
// it streams, reasoning collapsed, tool calls as cards (approve / deny, client tool results),
// notices, errors, and the run's usage and cost.

import { api } from "./api.js";
import { h, json, money, number, toast } from "./dom.js";

const TOOL_STATES = {
  input: "writing arguments…",
  running: "running",
  approval: "needs approval",
  deciding: "sending decision…",
  client: "waiting for you",
  done: "done",
  error: "error",
  denied: "denied",
};

export class Turn {
  /**
   * @param {object} options
   * @param {string} options.sessionId
   * @param {string} options.runId
   * @param {Map<string,string>} options.toolKinds tool name → kind (python, http, lambda, client)
   * @param {() => void} options.onChange called after each rendered event (to scroll)
   */
  constructor({ sessionId, runId, toolKinds, onChange }) {
    this.sessionId = sessionId;
    this.runId = runId;
    this.toolKinds = toolKinds || new Map();
    this.onChange = onChange || (() => {});
    this.texts = new Map();
    this.tools = new Map();
    this.status = h("span.badge", { dataset: { status: "queued" }, text: "queued" });
    this.usage = h("span.usage");
    this.parts = h("div.parts");
    this.node = h("article.turn.assistant", { "aria-label": "Agent reply", dataset: { run: runId } },
      this.parts,
      h("footer.meta", {}, this.status, this.usage,
        h("a.trace-link", { href: `#/trace/${sessionId}/${runId}` }, "Trace")));
  }

  get base() {
    return `/sessions/${this.sessionId}/runs/${this.runId}`;
  }

  handle({ id, data }) {
    const where = position(id);
    const handler = HANDLERS[data.type];
    if (handler) handler(this, data, where);
    else if (data.type && data.type.startsWith("data-")) this.dataPart(data);
    this.onChange();
  }

  setStatus(status) {
    this.status.textContent = status;
    this.status.dataset.status = status;
    this.node.dataset.status = status;
  }

  add(node, where) {
    if (where) Object.assign(node.dataset, { step: where.step, attempt: where.attempt });
    this.parts.append(node);
    return node;
  }

  note(text, kind = "note", where = null) {
    return this.add(h(`p.${kind}`, { text }), where);
  }

  dataPart(data) {
    if (data.type === "data-run" && data.data && data.data.status) this.setStatus(data.data.status);
  }

  text(part, where, className = "text") {
    let node = this.texts.get(part.id);
    if (!node) {
      node = className === "reasoning"
        ? h("details.reasoning", {}, h("summary", {}, "Reasoning"), h("div.reasoning-text"))
        : h("div.text");
      this.texts.set(part.id, node);
      this.add(node, where);
    }
    return className === "reasoning" ? node.querySelector(".reasoning-text") : node;
  }

  tool(callId, name, where) {
    let card = this.tools.get(callId);
    if (!card) {
      card = new ToolCard(this, callId, name);
      this.tools.set(callId, card);
      this.add(card.node, where);
    } else if (name && !card.name) {
      card.setName(name);
    }
    return card;
  }

  discard(data) {
    if (data.part) {
      const node = this.texts.get(data.part);
      if (node) node.remove();
      this.texts.delete(data.part);
      return;
    }
    const attempts = new Set((data.attempts || []).map(String));
    for (const node of [...this.parts.children]) {
      if (node.dataset.step === String(data.step) && attempts.has(node.dataset.attempt)) {
        node.remove();
      }
    }
    for (const [key, node] of this.texts) if (!node.isConnected) this.texts.delete(key);
    for (const [key, card] of this.tools) if (!card.node.isConnected) this.tools.delete(key);
  }
}

const HANDLERS = {
  start: (turn) => turn.setStatus("running"),
  "text-start": (turn, part, where) => turn.text(part, where),
  "text-delta": (turn, part, where) => turn.text(part, where).append(part.delta),
  "reasoning-start": (turn, part, where) => turn.text(part, where, "reasoning"),
  "reasoning-delta": (turn, part, where) => turn.text(part, where, "reasoning").append(part.delta),
  "tool-input-start": (turn, part, where) => turn.tool(part.toolCallId, part.toolName, where),
  "tool-input-delta": (turn, part, where) =>
    turn.tool(part.toolCallId, null, where).appendArguments(part.inputTextDelta),
  "tool-input-available": (turn, part, where) =>
    turn.tool(part.toolCallId, part.toolName, where).available(part.input),
  "tool-input-error": (turn, part, where) => {
    const card = turn.tool(part.toolCallId, part.toolName, where);
    card.setArguments(part.input);
    card.fail(part.errorText);
  },
  "tool-approval-request": (turn, part, where) =>
    turn.tool(part.toolCallId, null, where).askApproval(part.approvalId || part.toolCallId),
  "tool-output-available": (turn, part, where) =>
    turn.tool(part.toolCallId, null, where).result(part.output),
  "tool-output-error": (turn, part, where) =>
    turn.tool(part.toolCallId, null, where).fail(part.errorText),
  "tool-output-denied": (turn, part, where) => turn.tool(part.toolCallId, null, where).deny(),
  "data-usage": (turn, part) => {
    if (part.data && part.data.total) turn.usage.textContent = usageLine(part.data);
  },
  "data-notice": (turn, part, where) =>
    turn.note((part.data && (part.data.message || part.data.kind)) || "notice", "notice", where),
  "data-discard": (turn, part) => turn.discard(part.data || {}),
  error: (turn, part, where) => turn.note(part.errorText || "the run failed", "error-line", where),
  abort: (turn, part, where) => turn.note(`Cancelled${part.reason ? `: ${part.reason}` : ""}`,
    "notice", where),
  finish: (turn, part) => {
    const status = part.messageMetadata && part.messageMetadata.status;
    turn.setStatus(status || (part.finishReason === "error" ? "failed" : "succeeded"));
    for (const card of turn.tools.values()) card.settle();
  },
};

function position(id) {
  const [, step, attempt] = (id || "").split(".");
  if (step === undefined) return null;
  return { step: String(Number(step)), attempt: String(Number(attempt)) };
}

export function usageLine(usage) {
  const parts = [];
  if (usage.model_calls !== undefined) parts.push(`${usage.model_calls} model call(s)`);
  parts.push(`${number(usage.input_tokens)} in / ${number(usage.output_tokens)} out tokens`);
  if (usage.cached_tokens) parts.push(`${number(usage.cached_tokens)} cached`);
  if (usage.reasoning_tokens) parts.push(`${number(usage.reasoning_tokens)} reasoning`);
  parts.push(money(usage.cost_usd));
  return parts.join(" · ");
}

class ToolCard {
  constructor(turn, callId, name) {
    this.turn = turn;
    this.callId = callId;
    this.name = name || "";
    this.rawArguments = "";
    this.title = h("span.tool-name", { text: this.name || "tool" });
    this.badge = h("span.badge");
    this.args = h("pre.tool-args", { "aria-label": "Arguments" });
    this.output = h("div.tool-output");
    this.actions = h("div.tool-actions");
    this.node = h("section.tool-card", { dataset: { call: callId, tool: this.name } },
      h("header", {}, h("span.tool-icon", { "aria-hidden": "true", text: "⚙" }), this.title,
        this.badge),
      this.args, this.actions, this.output);
    this.setName(this.name);
    this.setState("input");
  }

  setName(name) {
    this.name = name || "";
    this.title.textContent = this.name || "tool";
    this.node.dataset.tool = this.name;
    this.node.setAttribute("aria-label", `Tool call ${this.name}`);
  }

  setState(state, label) {
    this.state = state;
    this.node.dataset.state = state;
    this.badge.textContent = label || TOOL_STATES[state] || state;
  }

  appendArguments(fragment) {
    this.rawArguments += fragment || "";
    this.args.textContent = this.rawArguments;
  }

  setArguments(input) {
    this.args.textContent = json(input === undefined ? {} : input);
  }

  available(input) {
    this.setArguments(input);
    if (this.state !== "input") return;
    if (this.turn.toolKinds.get(this.name) === "client") this.askClient();
    else this.setState("running");
  }

  askApproval(approvalId) {
    if (["done", "error", "denied"].includes(this.state)) return;
    this.setState("approval");
    const decide = async (approved) => {
      for (const button of this.actions.querySelectorAll("button")) button.disabled = true;
      this.setState("deciding");
      try {
        await api(`${this.turn.base}/approvals/${encodeURIComponent(approvalId)}`,
          { method: "POST", body: { approved }, retryConflict: true });
        this.actions.replaceChildren();
        if (this.state === "deciding") this.setState("running", approved ? "approved — running" : "denying…");
      } catch (error) {
        toast(`Could not send the decision: ${error.message}`);
        for (const button of this.actions.querySelectorAll("button")) button.disabled = false;
        this.setState("approval");
      }
    };
    this.actions.replaceChildren(
      h("p.small", { text: "This call waits for a person's decision." }),
      h("button.primary", { type: "button", onClick: () => decide(true) }, "Approve"),
      h("button.danger", { type: "button", onClick: () => decide(false) }, "Deny"));
  }

  askClient() {
    this.setState("client");
    const id = `client-${this.callId}`;
    const field = h("textarea", { id, rows: 3, spellcheck: false, text: "{}" });
    const send = async (asError) => {
      let body;
      if (asError) {
        body = { error: field.value || "the client failed" };
      } else {
        try {
          body = { output: JSON.parse(field.value || "null") };
        } catch {
          body = { output: field.value };
        }
      }
      for (const button of form.querySelectorAll("button")) button.disabled = true;
      try {
        await api(`${this.turn.base}/tool-results/${encodeURIComponent(this.callId)}`,
          { method: "POST", body, retryConflict: true });
        this.actions.replaceChildren();
        this.setState("running", "result sent");
      } catch (error) {
        toast(`Could not send the result: ${error.message}`);
        for (const button of form.querySelectorAll("button")) button.disabled = false;
      }
    };
    const form = h("form.client-form", { onSubmit: (event) => { event.preventDefault(); send(false); } },
      h("label", { for: id, text: `Result of ${this.name} (JSON, run by this client)` }), field,
      h("div.row", {},
        h("button.primary", { type: "submit" }, "Send result"),
        h("button", { type: "button", onClick: () => send(true) }, "Send as error")));
    this.actions.replaceChildren(form);
  }

  result(output) {
    this.actions.replaceChildren();
    this.setState("done");
    this.output.replaceChildren(h("div.label", { text: "Result" }),
      h("pre.tool-result", { text: json(output) }));
  }

  fail(text) {
    this.actions.replaceChildren();
    this.setState("error");
    this.output.replaceChildren(h("div.label", { text: "Error" }),
      h("pre.tool-result.tool-error", { text: text || "the tool failed" }));
  }

  deny() {
    this.actions.replaceChildren();
    this.setState("denied");
    this.output.replaceChildren(h("p.small.muted", { text: "Denied: the tool did not run." }));
  }

  /** The run ended: a card still waiting will not get an answer in this run. */
  settle() {
    if (!["done", "error", "denied"].includes(this.state)) {
      this.actions.replaceChildren();
      this.setState("error", "no result");
    }
  }
}
