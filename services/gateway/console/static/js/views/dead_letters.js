// Records consumers rejected, why and from where; an admin key can send one back to its topic.

import { get, post } from "../api.js";
import { h, panel, table, when } from "../dom.js";

export const title = "Dead letters";
const redriven = new Map(); // dlq offset -> re-drive count, as the gateway reported it in this tab

export async function load() {
  return (await get("/dead-letters?limit=200")).items;
}

function redriveButton(letter, ctx) {
  const run = async (event) => {
    event.target.disabled = true;
    try {
      const done = await post(`/dead-letters/${letter.dlq_offset}/redrive`);
      redriven.set(letter.dlq_offset, done.redrive_count);
      ctx.notify(`Re-drove dead letter ${letter.dlq_offset} to ${done.source_topic} (re-drive #${done.redrive_count}).`);
    } catch (error) {
      ctx.fail(error);
    } finally {
      ctx.refresh(true);
    }
  };
  // The read model flags a re-driven letter once the projector saw the re-drive's marker; until then (and for
  // the count) the gateway's answer in this tab says so.
  const count = redriven.get(letter.dlq_offset);
  const label = count ? `re-driven ×${count}` : letter.redriven ? "re-driven" : null;
  return h(
    "span",
    { class: "actions" },
    h("button", { type: "button", "data-action": "redrive", onclick: run }, "Re-drive"),
    label ? h("span", { class: "badge succeeded", "data-testid": "redriven" }, label) : null,
  );
}

export function draw(letters, _params, ctx) {
  const preview = (v) => (v && v.length > 90 ? `${v.slice(0, 90)}…` : v || "");
  return panel(
    h("h2", {}, `Dead letters (${letters.length})`),
    table(
      [
        { title: "offset", num: true, cell: (d) => d.dlq_offset },
        { title: "reason", cell: (d) => h("span", { class: "badge failed" }, d.reason) },
        { title: "source", cell: (d) => h("span", { class: "mono" }, `${d.source_topic}[${d.source_partition}]@${d.source_offset}`) },
        { title: "consumer group", cell: (d) => d.consumer_group },
        { title: "error", cell: (d) => preview(d.error) },
        { title: "value", cell: (d) => h("span", { class: "mono" }, preview(d.value_preview)) },
        { title: "failed", cell: (d) => when(d.failed_at) },
        { title: "", cell: (d) => redriveButton(d, ctx) },
      ],
      letters,
      { empty: "No dead letters.", rowAttrs: (d) => ({ "data-offset": d.dlq_offset }) },
    ),
  );
}
