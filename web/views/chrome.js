// The page chrome: who is signed in (top bar) and which server is in use (footer).
import { h } from "../dom.js";
import { initial } from "../format.js";

export function renderChrome(userBox, footer, { session, httpUrl, onSignOut }) {
  if (session) {
    userBox.replaceChildren(
      h("div", { class: "who" },
        h("span", { class: "avatar", "aria-hidden": "true" }, initial(session.name)),
        h("span", { class: "who-text" },
          h("span", { class: "who-name", testid: "signed-in-as", title: `Signed in as ${session.name}` }, session.name),
          h("span", { class: `role role-${session.role}` }, session.role))),
      h("button", { class: "btn btn-ghost btn-sm", type: "button", testid: "sign-out", onclick: onSignOut }, "Sign out"),
    );
  } else {
    userBox.replaceChildren();
  }
  let host = "";
  try {
    host = httpUrl ? new URL(httpUrl).host : "";
  } catch {
    host = httpUrl;
  }
  footer.replaceChildren(
    h("span", {}, host ? `Server: ${host}` : "No server configured"),
    h("a", { href: "#/settings", testid: "settings-link" }, "Server settings"),
  );
}
