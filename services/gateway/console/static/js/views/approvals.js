// Gates waiting for a human, longest waiting first.

import { get } from "../api.js";
import { h, panel, table, when } from "../dom.js";
import { gateButtons } from "./approval_buttons.js";

export const title = "Approvals";

export async function load() {
  return (await get("/approvals?status=pending&limit=200")).items;
}

export function draw(gates, _params, ctx) {
  return panel(
    h("h2", {}, `Pending approvals (${gates.length})`),
    table(
      [
        { title: "goal", cell: (a) => h("a", { href: `#/goals/${encodeURIComponent(a.goal_id)}` }, a.goal_id) },
        { title: "task", cell: (a) => a.task_id },
        { title: "operator", cell: (a) => a.operator || "—" },
        { title: "waiting since", cell: (a) => when(a.requested_at) },
        { title: "", cell: (a) => gateButtons(a, ctx) },
      ],
      gates,
      { empty: "Nothing is waiting for approval.", rowAttrs: (a) => ({ "data-gate": a.task_id }) },
    ),
  );
}
