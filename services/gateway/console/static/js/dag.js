// A goal's task DAG as inline SVG: tasks placed in columns by longest path from the roots, edges as curves.

import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 170;
const NODE_H = 46;
const GAP_X = 60;
const GAP_Y = 18;
const FILL = {
  succeeded: "#dcf2e4", failed: "#fbe0e0", timed_out: "#fbe0e0", cancelled: "#fbe0e0",
  running: "#e2eafc", started: "#e2eafc", assigned: "#e2eafc", created: "#eef2fb",
  retry_scheduled: "#fdf0d8", planned: "#f3f4f7",
};

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// Pure: the column of every task (0 for those depending on nothing known) and each column's tasks in order.
export function layers(tasks) {
  const byId = new Map(tasks.map((t) => [t.task_id, t]));
  const depth = new Map();
  const visiting = new Set();
  const visit = (id) => {
    if (depth.has(id)) return depth.get(id);
    if (visiting.has(id)) return 0; // a cycle cannot come from a valid plan; draw it flat rather than hang
    visiting.add(id);
    const deps = (byId.get(id).depends_on || []).filter((d) => byId.has(d));
    const d = deps.length ? 1 + Math.max(...deps.map(visit)) : 0;
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  tasks.forEach((t) => visit(t.task_id));
  const columns = [];
  for (const t of tasks) (columns[depth.get(t.task_id)] ||= []).push(t);
  return { depth, columns };
}

const label = (task) => task.operator || task.task_id.split("/").pop();

export function dagSvg(tasks, gated = new Set()) {
  if (!tasks.length) return h("p", { class: "empty" }, "No tasks planned yet.");
  const { columns } = layers(tasks);
  const tallest = Math.max(...columns.map((c) => c.length));
  const width = columns.length * (NODE_W + GAP_X) - GAP_X + 20;
  const height = tallest * (NODE_H + GAP_Y) - GAP_Y + 20;
  const svg = s("svg", { class: "dag", width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  svg.append(s("title", {}, "Task dependency graph"));
  const pos = new Map();
  columns.forEach((col, x) =>
    col.forEach((t, y) => {
      const top = 10 + y * (NODE_H + GAP_Y) + ((tallest - col.length) * (NODE_H + GAP_Y)) / 2;
      pos.set(t.task_id, { x: 10 + x * (NODE_W + GAP_X), y: top });
    }),
  );
  for (const t of tasks) {
    for (const dep of t.depends_on || []) {
      const from = pos.get(dep);
      const to = pos.get(t.task_id);
      if (!from || !to) continue;
      const x1 = from.x + NODE_W, y1 = from.y + NODE_H / 2, x2 = to.x, y2 = to.y + NODE_H / 2;
      const mid = (x1 + x2) / 2;
      svg.append(s("path", { class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` }));
    }
  }
  for (const t of tasks) {
    const { x, y } = pos.get(t.task_id);
    const waiting = gated.has(t.task_id);
    const g = s("g", { class: "node", "data-task": t.task_id, "data-status": t.status, transform: `translate(${x},${y})` });
    g.append(s("title", {}, `${t.task_id}: ${t.status}${t.agent_id ? ` on ${t.agent_id}` : ""}`));
    const fill = waiting ? "#fdf0d8" : FILL[t.status] || "#f3f4f7";
    const dashed = t.requires_approval ? { "stroke-dasharray": "4 3", stroke: "#b7791f" } : {};
    g.append(s("rect", { width: NODE_W, height: NODE_H, rx: 6, fill, ...dashed }));
    g.append(s("text", { x: 10, y: 19, "font-weight": 600 }, `${label(t)}${t.requires_approval ? " · gate" : ""}`));
    const sub = waiting ? "awaiting approval" : `${t.status}${t.agent_id ? ` · ${t.agent_id}` : ""}`;
    g.append(s("text", { x: 10, y: 36, fill: "#687086" }, sub.length > 24 ? `${sub.slice(0, 23)}…` : sub));
    svg.append(g);
  }
  return svg;
}
