// Calls to the hub's local API; asks for the admin password when a change needs it.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

async function toError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error ? body.error : {};
  let message = error.message || `${response.status} ${response.statusText}`;
  if (Array.isArray(error.details) && error.details.length && error.details[0].msg) {
    message += `: ${error.details.map((d) => d.msg).join("; ")}`;
  }
  return new ApiError(response.status, error.code || "http_error", message, error.details);
}

function request(path, method, body) {
  // X-Requested-With: the hub then answers 401 without a Basic challenge (no browser popup).
  const options = {
    method,
    headers: { Accept: "application/json", "X-Requested-With": "plantvita-ui" },
    credentials: "same-origin",
  };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  return fetch(path, options);
}

/** JSON request to the hub; on 401 asks for the admin password once and retries. */
export async function api(path, { method = "GET", body, askPassword = true } = {}) {
  let response = await request(path, method, body);
  if (response.status === 401 && askPassword) {
    const error = await toError(response);
    if (await authenticate(error.code === "setup_required")) {
      response = await request(path, method, body);
    } else {
      throw error;
    }
  }
  if (!response.ok) throw await toError(response);
  if (response.status === 204) return null;
  return response.json();
}

let dialog = null;

function buildDialog() {
  dialog = document.createElement("dialog");
  dialog.id = "auth-dialog";
  dialog.setAttribute("aria-labelledby", "auth-title");
  dialog.innerHTML = `
    <form method="dialog" id="auth-form">
      <h2 id="auth-title">Admin password</h2>
      <p id="auth-help" class="muted small"></p>
      <label for="auth-password">Password</label>
      <input id="auth-password" name="password" type="password" autocomplete="current-password"
        required minlength="1">
      <div id="auth-confirm-wrap" hidden>
        <label for="auth-confirm">Repeat the password</label>
        <input id="auth-confirm" name="confirm" type="password" autocomplete="new-password">
      </div>
      <p id="auth-error" class="notice error" role="alert" hidden></p>
      <div class="row actions">
        <button type="submit" value="ok">Continue</button>
        <button type="button" class="secondary" id="auth-cancel">Cancel</button>
      </div>
    </form>`;
  document.body.append(dialog);
  return dialog;
}

/** Log in (or, on first run, set the admin password). Resolves true when authenticated. */
export function authenticate(firstRun = false) {
  const box = dialog || buildDialog();
  const form = box.querySelector("#auth-form");
  const password = box.querySelector("#auth-password");
  const confirm = box.querySelector("#auth-confirm");
  const error = box.querySelector("#auth-error");
  box.querySelector("#auth-title").textContent = firstRun ? "Choose an admin password" : "Admin password";
  box.querySelector("#auth-help").textContent = firstRun
    ? "This hub has no admin password yet. Choose one (at least 8 characters); it protects changes to your garden."
    : "Changes to the hub need the admin password.";
  box.querySelector("#auth-confirm-wrap").hidden = !firstRun;
  password.autocomplete = firstRun ? "new-password" : "current-password";
  password.minLength = firstRun ? 8 : 1;
  confirm.required = firstRun;
  password.value = "";
  confirm.value = "";
  error.hidden = true;
  return new Promise((resolve) => {
    const finish = (ok) => {
      form.onsubmit = null;
      box.querySelector("#auth-cancel").onclick = null;
      box.onclose = null;
      if (box.open) box.close();
      resolve(ok);
    };
    form.onsubmit = async (event) => {
      event.preventDefault();
      error.hidden = true;
      if (firstRun && password.value !== confirm.value) {
        error.textContent = "The two passwords differ.";
        error.hidden = false;
        return;
      }
      try {
        if (firstRun) {
          const set = await request("/api/v1/auth/password", "POST", { password: password.value });
          if (!set.ok) throw await toError(set);
        }
        const login = await request("/api/v1/auth/login", "POST", { password: password.value });
        if (!login.ok) throw await toError(login);
        finish(true);
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
        password.focus();
      }
    };
    box.querySelector("#auth-cancel").onclick = () => finish(false);
    box.onclose = () => finish(false);
    box.showModal();
    password.focus();
  });
}
