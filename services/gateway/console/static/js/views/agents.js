// The fleet: load, breaker state, liveness, and the drift monitor's stability score.

import { get } from "../api.js";
import { badge, bar, h, panel, table, when } from "../dom.js";

export const title = "Agents";

export async function load() {
  return (await get("/agents?limit=500")).items;
}

export function draw(agents) {
  return panel(
    h("h2", {}, `Agents (${agents.length})`),
    table(
      [
        { title: "agent", cell: (a) => h("span", { class: "mono" }, a.agent_id) },
        { title: "role", cell: (a) => a.role || "—" },
        { title: "status", cell: (a) => badge(a.status) },
        { title: "breaker", cell: (a) => badge(a.breaker_state || "closed") },
        {
          title: "load",
          cell: (a) =>
            h(
              "span",
              {},
              bar(a.load),
              ` ${a.in_flight ?? 0}/${a.capacity ?? "?"}`,
              a.lease_waits
                ? h("span", { class: "muted", title: "assignments waiting for file leases" }, ` +${a.lease_waits} waiting`)
                : "",
            ),
        },
        { title: "stability", cell: (a) => bar(a.stability, "stability") },
        { title: "drift", cell: (a) => (a.drift_status ? badge(a.drift_status) : h("span", { class: "muted" }, "—")) },
        { title: "tokens", num: true, cell: (a) => a.tokens_used ?? 0 },
        { title: "capabilities", cell: (a) => (a.capabilities || []).join(", ") },
        { title: "last heartbeat", cell: (a) => when(a.last_heartbeat) },
      ],
      agents,
      {
        empty: "No agent has registered.",
        rowAttrs: (a) => ({ "data-agent": a.agent_id, "data-breaker": a.breaker_state, "data-stability": a.stability }),
      },
    ),
  );
}
