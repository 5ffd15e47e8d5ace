// One goal: summary, task DAG, the gates it waits for, its causal timeline, and a replay from Kafka.

import { enc, get } from "../api.js";
import { causalOrder, eventList } from "../causal.js";
import { dagSvg } from "../dag.js";
import { badge, h, panel, table, when } from "../dom.js";
import { gateButtons } from "./approval_buttons.js";

export const title = "Goal";
const replays = new Map(); // goal id -> {events} once the operator asked for a replay (kept across refreshes)

export async function load({ id }) {
  const [goal, timeline] = await Promise.all([
    get(`/goals/${enc(id)}`),
    get(`/goals/${enc(id)}/timeline?limit=500`),
  ]);
  return { goal, timeline: timeline.items, replay: replays.get(id) || null };
}

function summary(goal) {
  const item = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value));
  return h(
    "dl",
    { class: "summary" },
    item("status", badge(goal.status)),
    item("type", goal.goal_type || "—"),
    item("tasks", goal.tasks_total ? `${goal.tasks_succeeded ?? 0}/${goal.tasks_total} succeeded` : "—"),
    item("method", `${goal.method || "—"}${goal.plan_source ? ` (${goal.plan_source})` : ""}`),
    item("submitted by", goal.submitted_by || "—"),
    item("submitted", when(goal.created_at)),
    goal.reason ? item("reason", goal.reason) : null,
  );
}

function replayPanel(id, data, ctx) {
  const run = async (event) => {
    event.target.disabled = true;
    try {
      replays.set(id, await get(`/goals/${enc(id)}/replay`));
      ctx.notify(`Replayed ${id} from Kafka.`);
    } catch (error) {
      ctx.fail(error);
    } finally {
      ctx.refresh();
    }
  };
  const body = [
    h("h3", {}, "Replay from Kafka"),
    h(
      "p",
      { class: "muted" },
      "Re-reads every event topic from the start (the log, not the read models) and lists this goal's events in ",
      "the order they happened, indented under their cause.",
    ),
    h("button", { type: "button", "data-action": "replay", onclick: run }, data.replay ? "Replay again" : "Replay"),
  ];
  if (data.replay) {
    const events = data.replay.events;
    const logged = new Set(data.timeline.map((e) => e.event_id));
    const missing = events.filter((e) => !logged.has(e.event_id)).length;
    body.push(
      h(
        "p",
        { "data-testid": "replay-summary" },
        `${events.length} events on Kafka; ${data.timeline.length} in the read models`,
        missing ? ` (${missing} not projected yet).` : " (all projected).",
      ),
      eventList(
        events.map((e) => [e, e.depth]),
        { testid: "replay", goalId: id },
      ),
    );
  }
  return panel(...body);
}

export function draw(data, { id }, ctx) {
  const { goal } = data;
  const gated = new Set(goal.pending_approvals.map((a) => a.task_id));
  return h(
    "div",
    { "data-goal": goal.goal_id, "data-status": goal.status },
    panel(h("h2", {}, goal.title ? `${goal.title} — ` : "", h("span", { class: "mono" }, goal.goal_id)), summary(goal)),
    goal.pending_approvals.length
      ? panel(
          h("h3", {}, "Waiting for approval"),
          table(
            [
              { title: "task", cell: (a) => a.task_id },
              { title: "operator", cell: (a) => a.operator || "—" },
              { title: "since", cell: (a) => when(a.requested_at) },
              { title: "", cell: (a) => gateButtons(a, ctx) },
            ],
            goal.pending_approvals,
            { rowAttrs: (a) => ({ "data-gate": a.task_id }) },
          ),
        )
      : null,
    panel(h("h3", {}, "Task graph"), dagSvg(goal.tasks, gated)),
    panel(
      h("h3", {}, `Causal timeline (${data.timeline.length} events)`),
      eventList(causalOrder(data.timeline), { testid: "timeline", goalId: goal.goal_id }),
    ),
    replayPanel(id, data, ctx),
  );
}
