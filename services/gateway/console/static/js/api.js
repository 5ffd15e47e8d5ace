// The gateway's JSON API with the operator's key: every request carries it, every failure becomes an ApiError
// whose message says in one line what went wrong (the gateway's own `detail` or `message`).

const KEY = "architect.console.key";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const session = {
  key: () => sessionStorage.getItem(KEY),
  signIn: (key) => sessionStorage.setItem(KEY, key),
  signOut: () => sessionStorage.removeItem(KEY),
};

function explain(status, body) {
  const said = body && (body.message || (typeof body.detail === "string" ? body.detail : null));
  if (status === 401) return `Not signed in: the gateway refused the key (${said || "unauthorised"}). Sign in again.`;
  if (status === 403) return `Not allowed: ${said || "this key lacks the scope needed"}.`;
  if (said) return said;
  return `The gateway answered ${status}.`;
}

export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  const key = session.key();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, `The gateway cannot be reached (${error.message}).`);
  }
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    parsed = null;
  }
  if (!response.ok) throw new ApiError(response.status, explain(response.status, parsed));
  return parsed;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);
export const enc = encodeURIComponent;
