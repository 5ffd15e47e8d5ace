// Goals, newest first, with live status and progress.

import { get } from "../api.js";
import { badge, h, panel, table, when } from "../dom.js";

export const title = "Goals";

export async function load() {
  return (await get("/goals?limit=100")).items;
}

export function draw(goals) {
  return panel(
    h("h2", {}, `Goals (${goals.length})`),
    table(
      [
        { title: "goal", cell: (g) => h("a", { href: `#/goals/${encodeURIComponent(g.goal_id)}` }, g.goal_id) },
        { title: "type", cell: (g) => g.goal_type || "—" },
        { title: "title", cell: (g) => g.title || "" },
        { title: "status", cell: (g) => badge(g.status) },
        { title: "tasks", num: true, cell: (g) => (g.tasks_total ? `${g.tasks_succeeded ?? 0}/${g.tasks_total}` : "—") },
        { title: "method", cell: (g) => g.method || "—" },
        { title: "by", cell: (g) => g.submitted_by || "—" },
        { title: "submitted", cell: (g) => when(g.created_at) },
      ],
      goals,
      { empty: "No goals yet.", rowAttrs: (g) => ({ "data-goal": g.goal_id, "data-status": g.status }) },
    ),
  );
}
