// The API, as any client sees it: every call sends `Authorization: Bearer <key>`.
// The key lives in sessionStorage (this tab only); a 401 sends the user back to sign in.

const KEY_STORAGE = "podium.key";
// The page is served at <api>/ui/: the API is the folder above (keeps a stage prefix).
const BASE = new URL("../", window.location.href);

let unauthorizedHandler = () => {};

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function getKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function setKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key.trim());
}

export function clearKey() {
  sessionStorage.removeItem(KEY_STORAGE);
}

export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

export function url(path) {
  return new URL(path.replace(/^\//, ""), BASE).toString();
}

function headers(extra = {}) {
  const out = { ...extra };
  const key = getKey();
  if (key) out.Authorization = `Bearer ${key}`;
  return out;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error ? body.error : {};
  return new ApiError(response.status, error.code || `http_${response.status}`,
    error.message || response.statusText || `HTTP ${response.status}`, error.details);
}

/**
 * A JSON call. `retryConflict`: a 409 with Retry-After (a decision sent just before the call
 * is parked) is retried a few times, as the API asks.
 */
export async function api(path, { method = "GET", body, signal, retryConflict = false,
  quietAuth = false } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const init = { method, signal, headers: headers({ Accept: "application/json" }) };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url(path), init);
    if (response.ok) {
      return response.status === 204 ? null : response.json();
    }
    const retryAfter = Number(response.headers.get("Retry-After"));
    if (retryConflict && response.status === 409 && retryAfter && attempt < 10) {
      await sleep(Math.min(retryAfter, 2) * 1000);
      continue;
    }
    const error = await failure(response);
    if (response.status === 401 && !quietAuth) unauthorizedHandler(error);
    throw error;
  }
}

/** A query string from the defined values of `params`. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * Follow a run's events (SSE over fetch, so the Authorization header is sent), calling
 * `onEvent({id, data})` for each part until `[DONE]`. A dropped connection is resumed with
 * `Last-Event-ID`, so nothing is lost or repeated. Resolves with the last event id.
 */
export async function followEvents(path, onEvent, { signal, lastEventId = null } = {}) {
  let last = lastEventId;
  let failures = 0;
  while (!signal || !signal.aborted) {
    try {
      const response = await fetch(url(path), {
        signal,
        headers: headers({ Accept: "text/event-stream", ...(last ? { "Last-Event-ID": last } : {}) }),
      });
      if (!response.ok) {
        const error = await failure(response);
        if (response.status === 401) unauthorizedHandler(error);
        throw error;
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let boundary;
        while ((boundary = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const parsed = parseBlock(block);
          if (parsed.id) last = parsed.id;
          if (parsed.data === null) continue;
          if (parsed.data === "[DONE]") return last;
          failures = 0;
          onEvent({ id: parsed.id || last, data: JSON.parse(parsed.data) });
        }
      }
      // The stream ended without [DONE] (a proxy cut it, or long polling): resume.
    } catch (error) {
      if (signal && signal.aborted) break;
      if (error instanceof ApiError && error.status < 500 && error.status !== 429) throw error;
      failures += 1;
      if (failures > 8) throw error;
    }
    await sleep(Math.min(250 * 2 ** failures, 4000));
  }
  return last;
}

function parseBlock(block) {
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  return { id, data: data.length ? data.join("\n") : null };
}
