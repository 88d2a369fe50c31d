// Podium's web UI: sign-in, hash routes, and the three views (playground, sessions, trace).

import { api, clearKey, getKey, onUnauthorized, setKey } from "./api.js";
import { $, toast } from "./dom.js";
import { Playground } from "./playground.js";
import { Sessions } from "./sessions.js";
import { Trace } from "./trace.js";

const VIEWS = ["signin", "playground", "sessions", "trace"];
const state = { signedIn: false, agents: null };

const playground = new Playground(state);
const sessions = new Sessions(state);
const trace = new Trace();

/** `#key=<key>` (from `podium dev`): keep it for this tab and drop it from the address bar. */
function takeKeyFromFragment() {
  const match = window.location.hash.match(/^#key=([^&]+)/);
  if (!match) return;
  setKey(decodeURIComponent(match[1]));
  window.history.replaceState(null, "", `${window.location.pathname}${window.location.search}#/playground`);
}

function show(view) {
  for (const name of VIEWS) $(`#view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  $("#nav").hidden = view === "signin";
  $("#sign-out").hidden = view === "signin";
}

async function loadAgents() {
  const body = await api("/agents", { quietAuth: true });
  state.agents = body.items;
  state.signedIn = true;
}

function showSignIn(message = "") {
  state.signedIn = false;
  state.agents = null;
  show("signin");
  $("#signin-error").textContent = message;
  $("#signin-key").focus();
}

async function route() {
  if (!state.signedIn) {
    try {
      await loadAgents();
    } catch (error) {
      const rejected = Boolean(getKey()) && error.status === 401;
      if (rejected) clearKey();
      showSignIn(rejected ? "That key was not accepted." : error.status === 401 ? "" : `Could not reach the API: ${error.message}`);
      return;
    }
  }
  const path = window.location.hash.replace(/^#\/?/, "") || "playground";
  const [view, ...args] = path.split("/").map(decodeURIComponent);
  const name = VIEWS.includes(view) && view !== "signin" ? view : "playground";
  show(name);
  try {
    if (name === "playground") await playground.open(args[0]);
    else if (name === "sessions") await sessions.open(args[0]);
    else if (name === "trace") await trace.open(args[0], args[1]);
  } catch (error) {
    if (error.status !== 401) toast(error.message);
  }
}

$("#signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("#signin-key").value.trim();
  if (!key) return;
  setKey(key);
  try {
    await loadAgents();
  } catch (error) {
    clearKey();
    $("#signin-error").textContent =
      error.status === 401 ? "That key was not accepted." : `Could not sign in: ${error.message}`;
    return;
  }
  $("#signin-key").value = "";
  if (!window.location.hash || window.location.hash === "#/signin") window.location.hash = "#/playground";
  else route();
});

$("#sign-out").addEventListener("click", () => {
  clearKey();
  playground.reset();
  sessions.reset();
  trace.reset();
  showSignIn("Signed out.");
});

onUnauthorized(() => {
  clearKey();
  sessions.reset();
  trace.reset();
  showSignIn("Your key was not accepted (401): sign in again.");
});

window.addEventListener("hashchange", route);
takeKeyFromFragment();
route();
