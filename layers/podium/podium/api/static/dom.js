// Small DOM helpers. Text always goes in as text (never HTML): model output is untrusted.

/** h("div.card#x", {attrs, on*: handlers}, ...children) */
export function h(spec, props = {}, ...children) {
  const [, tag = "div", rest = ""] = spec.match(/^([a-z0-9-]*)(.*)$/i) || [];
  const node = document.createElement(tag || "div");
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === ".") node.classList.add(part.slice(1));
    else node.id = part.slice(1);
  }
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name === "text") {
      node.textContent = value;
    } else if (name in node && typeof value !== "string") {
      node[name] = value;
    } else {
      node.setAttribute(name, value === true ? "" : value);
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** JSON for people: on one line when short, indented otherwise. */
export function json(value) {
  if (typeof value === "string") return value;
  try {
    const line = JSON.stringify(value);
    if (line === undefined) return String(value);
    return line.length <= 72 ? line : JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

export function money(usd) {
  if (usd === undefined || usd === null) return "–";
  if (usd === 0) return "$0";
  if (usd < 0.01) return `$${usd.toFixed(6)}`;
  return `$${usd.toFixed(4)}`;
}

export function number(n) {
  return n === undefined || n === null ? "–" : Number(n).toLocaleString("en-US");
}

export function duration(seconds) {
  if (seconds === undefined || seconds === null || Number.isNaN(seconds)) return "–";
  const ms = seconds * 1000;
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  if (seconds < 120) return `${seconds.toFixed(2)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

export function when(epochSeconds) {
  if (!epochSeconds) return "–";
  const date = new Date(epochSeconds * 1000);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function short(id) {
  return id && id.length > 12 ? `${id.slice(0, 6)}…${id.slice(-4)}` : id || "";
}

let toastTimer = null;

export function toast(message) {
  const node = document.getElementById("toast");
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, 6000);
}
