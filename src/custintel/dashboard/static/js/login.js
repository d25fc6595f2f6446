// Sign in: keep the key for this tab (sessionStorage) once the API accepts it.
import { key, setKey, tokenTaken } from "./app.js";

const form = document.getElementById("login-form");
const input = document.getElementById("token");
const status = document.getElementById("login-status");

function next() {
  const target = new URL(window.location.href).searchParams.get("next") || "/";
  // only a path of this site: never send the key's holder elsewhere
  return target.startsWith("/") && !target.startsWith("//") ? target : "/";
}

if (tokenTaken) {
  window.location.replace(next());
} else if (key()) {
  status.textContent = "You are signed in; paste another key to switch.";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = input.value.trim();
  if (!token) return;
  status.textContent = "Checking the key…";
  const response = await fetch("/v1/models", { headers: { Authorization: `Bearer ${token}` } });
  if (response.status === 401) {
    status.textContent = "This key is unknown or revoked: `custintel keys list` shows the live keys.";
    input.focus();
    return;
  }
  setKey(token);
  window.location.assign(next());
});
