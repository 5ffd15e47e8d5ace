// The console's shell: sign-in, hash routing, the message banner, and polling the current view every few seconds.

import { ApiError, get, session } from "./api.js";
import * as agents from "./views/agents.js";
import * as approvals from "./views/approvals.js";
import * as deadLetters from "./views/dead_letters.js";
import * as goal from "./views/goal.js";
import * as goals from "./views/goals.js";

const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);
const ROUTES = [
  [/^#\/goals\/(.+)$/, goal, "goals", (m) => ({ id: decodeURIComponent(m[1]) })],
  [/^#\/goals$/, goals, "goals"],
  [/^#\/approvals$/, approvals, "approvals"],
  [/^#\/agents$/, agents, "agents"],
  [/^#\/dead-letters$/, deadLetters, "dead-letters"],
];

let shown = { hash: null, json: null };
let timer = null;
let busy = false;

function route() {
  for (const [pattern, view, nav, params] of ROUTES) {
    const m = location.hash.match(pattern);
    if (m) return { view, nav, params: params ? params(m) : {} };
  }
  return null;
}

function banner(text, kind = "error") {
  const el = $("banner");
  el.textContent = text;
  el.className = kind === "info" ? "info" : "";
  el.hidden = !text;
}

function signedOut(message) {
  session.signOut();
  clearInterval(timer);
  timer = null;
  $("nav").hidden = true;
  $("session").hidden = true;
  $("view").replaceChildren();
  $("login").hidden = false;
  $("api-key").value = "";
  $("api-key").focus();
  shown = { hash: null, json: null };
  if (message) banner(message);
}

function fail(error) {
  if (error instanceof ApiError && error.status === 401) signedOut(error.message);
  else banner(error.message || String(error));
}

const ctx = {
  notify: (text) => banner(text, "info"),
  fail,
  refresh: (force = false) => render(force),
};

async function render(force = false) {
  const target = route();
  if (!target) {
    location.hash = "#/goals";
    return;
  }
  if (busy) return;
  busy = true;
  try {
    const data = await target.view.load(target.params);
    const json = JSON.stringify(data);
    if (force || shown.hash !== location.hash || shown.json !== json) {
      $("view").replaceChildren(target.view.draw(data, target.params, ctx));
      shown = { hash: location.hash, json };
    }
    document.title = `${target.view.title} · Architect console`;
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("current", a.dataset.view === target.nav);
    $("live").classList.remove("stale");
    $("live").textContent = `live · ${new Date().toLocaleTimeString([], { hour12: false })}`;
  } catch (error) {
    $("live").classList.add("stale");
    fail(error);
  } finally {
    busy = false;
  }
}

function signedIn() {
  $("login").hidden = true;
  $("nav").hidden = false;
  $("session").hidden = false;
  clearInterval(timer);
  timer = setInterval(() => render(), POLL_MS);
  render(true);
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (!key) return;
  session.signIn(key);
  try {
    await get("/goals?limit=1"); // the key is checked by a real query before the console opens
    banner("");
    signedIn();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) signedOut(error.message);
    else {
      session.signOut();
      banner(error.message);
    }
  }
});
$("logout").addEventListener("click", () => {
  banner("");
  signedOut("Signed out.");
  banner("Signed out.", "info");
});
window.addEventListener("hashchange", () => {
  if (!session.key()) return;
  banner("");
  render(true);
});

if (session.key()) signedIn();
else signedOut();
