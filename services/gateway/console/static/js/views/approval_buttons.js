// Approve / reject buttons for one gate; the caller's key decides whether the gateway lets it through.

import { enc, post } from "../api.js";
import { h } from "../dom.js";

export function gateButtons(gate, ctx) {
  const act = (verb) => async (event) => {
    const row = event.target.closest(".actions");
    row.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      // Task ids are goal/step: each segment is encoded, the slashes between them stay (the route takes a path).
      const task = gate.task_id.split("/").map(enc).join("/");
      await post(`/goals/${enc(gate.goal_id)}/approvals/${task}/${verb}`, {});
      ctx.notify(`${verb === "approve" ? "Approved" : "Rejected"} ${gate.task_id}: the command is on Kafka.`);
    } catch (error) {
      ctx.fail(error);
    } finally {
      ctx.refresh();
    }
  };
  return h(
    "span",
    { class: "actions" },
    h("button", { type: "button", class: "primary", "data-action": "approve", onclick: act("approve") }, "Approve"),
    h("button", { type: "button", class: "danger", "data-action": "reject", onclick: act("reject") }, "Reject"),
  );
}
