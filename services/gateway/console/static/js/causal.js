// A goal's events as a causal tree: each event under the event that caused it, siblings in time order.

import { h, when } from "./dom.js";

// Pure: [event, depth] pairs in depth-first order; roots are events whose cause is not in the list.
export function causalOrder(events) {
  const ids = new Set(events.map((e) => e.event_id));
  const children = new Map();
  const roots = [];
  for (const e of events) {
    if (e.causation_id && ids.has(e.causation_id) && e.causation_id !== e.event_id) {
      if (!children.has(e.causation_id)) children.set(e.causation_id, []);
      children.get(e.causation_id).push(e);
    } else roots.push(e);
  }
  const out = [];
  const seen = new Set();
  const walk = (e, depth) => {
    if (seen.has(e.event_id)) return;
    seen.add(e.event_id);
    out.push([e, depth]);
    for (const c of children.get(e.event_id) || []) walk(c, depth + 1);
  };
  roots.forEach((r) => walk(r, 0));
  return out;
}

function summary(payload, goalId) {
  if (!payload) return "";
  const short = (k, v) => (k === "task_id" && goalId && String(v).startsWith(`${goalId}/`) ? v.slice(goalId.length + 1) : v);
  const keys = ["task_id", "agent_id", "approver", "status", "reason", "error_class", "method"];
  return keys.filter((k) => payload[k] !== undefined && payload[k] !== null).map((k) => `${k}=${short(k, payload[k])}`).join(" ");
}

export function eventList(pairs, { testid, goalId = null }) {
  if (!pairs.length) return h("p", { class: "empty" }, "No events.");
  return h(
    "ul",
    { class: "timeline", "data-testid": testid },
    pairs.map(([e, depth]) =>
      h(
        "li",
        { style: `padding-left:${depth * 18}px`, "data-type": e.type },
        depth ? "└ " : "",
        h("span", { class: "mono muted" }, when(e.occurred_at)),
        " ",
        h("span", { class: "type" }, e.type),
        " ",
        h("span", { class: "producer" }, `[${e.producer}]`),
        " ",
        h("span", { class: "mono" }, summary(e.payload, goalId)),
      ),
    ),
  );
}
