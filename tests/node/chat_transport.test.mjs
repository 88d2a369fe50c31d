// The AI SDK's own chat transport (what useChat uses) against Podium's chat endpoint.
// Run by tests/api/test_node_clients.py with PODIUM_URL and PODIUM_KEY set.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DefaultChatTransport, readUIMessageStream } from "ai";

const url = process.env.PODIUM_URL;
const key = process.env.PODIUM_KEY;

function transport(agent, variables = {}) {
  return new DefaultChatTransport({
    api: `${url}/chat`,
    headers: { Authorization: `Bearer ${key}` },
    body: { agent, variables },
  });
}

function userMessage(text) {
  return { id: `u-${Math.random()}`, role: "user", parts: [{ type: "text", text }] };
}

async function lastMessage(stream, message = undefined) {
  let last;
  for await (const current of readUIMessageStream({ stream, message })) last = current;
  return last;
}

function textOf(message) {
  return message.parts.filter((p) => p.type === "text").map((p) => p.text).join("");
}

test("sendMessages, a cut, then reconnectToStream gives the same message", async () => {
  const chat = transport("weather");
  const chatId = `node-weather-${Date.now()}`;
  const cut = new AbortController();
  const stream = await chat.sendMessages({
    chatId,
    messages: [userMessage("What's the weather and time in Paris?")],
    trigger: "submit-message",
    messageId: undefined,
    abortSignal: cut.signal,
  });
  const reader = stream.getReader();
  const seen = [];
  while (seen.length < 8) {
    const { value, done } = await reader.read();
    if (done) break;
    seen.push(value);
  }
  cut.abort(); // the connection drops mid-run; the run goes on on the server
  assert.ok(seen.some((chunk) => chunk.type === "start"));

  const resumed = await chat.reconnectToStream({ chatId });
  assert.ok(resumed, "an active run has a stream to resume");
  const message = await lastMessage(resumed);
  assert.equal(message.role, "assistant");
  const tools = message.parts.filter((p) => p.type.startsWith("tool-"));
  assert.deepEqual(tools.map((p) => p.type).sort(), ["tool-get_time", "tool-get_weather"]);
  for (const part of tools) assert.equal(part.state, "output-available");
  const weather = tools.find((p) => p.type === "tool-get_weather");
  assert.deepEqual(weather.input, { city: "Paris" });
  assert.equal(weather.output.city, "Paris");
  assert.match(textOf(message), /Paris/);
  assert.ok(message.parts.some((p) => p.type === "data-usage"));

  const after = await chat.reconnectToStream({ chatId });
  assert.equal(after, null, "nothing to resume once the run ended");
});

test("an approval request arrives as the SDK's native approval part", async () => {
  const chat = transport("support", { company: "Acme" });
  const chatId = `node-support-${Date.now()}`;
  const cut = new AbortController();
  const stream = await chat.sendMessages({
    chatId,
    messages: [userMessage("Please refund 19.99 on order AB-1234, it arrived damaged")],
    trigger: "submit-message",
    messageId: undefined,
    abortSignal: cut.signal,
  });
  let message;
  for await (message of readUIMessageStream({ stream })) {
    const refund = message.parts.find((p) => p.type === "tool-issue_refund");
    if (refund && refund.state === "approval-requested") break;
  }
  cut.abort();
  const refund = message.parts.find((p) => p.type === "tool-issue_refund");
  assert.equal(refund.state, "approval-requested");
  assert.equal(refund.approval.id, refund.toolCallId);
  assert.deepEqual(refund.input, {
    order_id: "AB-1234", amount_usd: 19.99, reason: "damaged on arrival",
  });

  // answer the way useChat does after addToolApprovalResponse: resubmit the messages
  const answered = {
    ...message,
    parts: message.parts.map((p) =>
      p.type === "tool-issue_refund"
        ? { ...p, state: "approval-responded", approval: { id: p.approval.id, approved: true } }
        : p,
    ),
  };
  let rest;
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      rest = await chat.sendMessages({
        chatId,
        messages: [userMessage("Please refund 19.99 on order AB-1234, it arrived damaged"), answered],
        trigger: "submit-message",
        messageId: message.id,
        abortSignal: undefined,
      });
      break;
    } catch (error) {
      if (!String(error).includes("not waiting yet")) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const final = await lastMessage(rest, answered);
  const done = final.parts.find((p) => p.toolCallId === refund.toolCallId);
  assert.equal(done.state, "output-available", JSON.stringify(done));
  assert.equal(done.output.refunded_usd, 19.99);
  assert.match(textOf(final), /refund/i);
});
