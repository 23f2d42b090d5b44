// Sign in: a name and role on dev stacks (POST /dev/token), or a pasted JWT.
import { h, field, showMsg } from "../dom.js";

/**
 * notice: one-shot text (e.g. "session expired"); devTokens: start with the dev form;
 * devSignIn(name, role) -> Promise<error text | null>; tokenSignIn(text) -> error text | null.
 */
export function signInView({ notice, devTokens, devSignIn, tokenSignIn }) {
  const msg = h("p", { class: "msg", hidden: true, role: "alert", testid: "signin-error" });

  const nameIn = h("input", { type: "text", testid: "signin-name", required: true, maxlength: "40", autocomplete: "nickname", placeholder: "e.g. Ada", autofocus: true });
  const roleIn = h("select", { testid: "signin-role" },
    h("option", { value: "bidder" }, "Bidder"),
    h("option", { value: "seller" }, "Seller"),
    h("option", { value: "admin" }, "Admin"));
  const submit = h("button", { class: "btn btn-primary btn-block", type: "submit", testid: "signin-submit" }, "Continue");

  const devForm = h("form", {
    class: "stack",
    onsubmit: async (e) => {
      e.preventDefault();
      const name = nameIn.value.trim();
      if (!name) return showMsg(msg, "Please enter your name.");
      submit.disabled = true;
      submit.textContent = "Signing in…";
      const error = await devSignIn(name, roleIn.value);
      if (error) {
        showMsg(msg, error);
        submit.disabled = false;
        submit.textContent = "Continue";
      }
    },
  },
  field("Your name", nameIn),
  field("I want to", roleIn, "Bidders place bids. Sellers create auctions."),
  submit);

  const tokenIn = h("textarea", { testid: "signin-token", rows: "4", placeholder: "eyJhbGciOi…", spellcheck: "false" });
  const tokenForm = h("form", {
    class: "stack",
    onsubmit: (e) => {
      e.preventDefault();
      const error = tokenSignIn(tokenIn.value);
      if (error) showMsg(msg, error);
    },
  },
  field("Access token (JWT)", tokenIn, "Paste the token issued by your identity provider."),
  h("button", { class: "btn btn-primary btn-block", type: "submit", testid: "signin-token-submit" }, "Sign in"));

  let showDev = devTokens;
  const body = h("div");
  const toggle = h("button", { class: "linklike", type: "button" });
  function sync() {
    body.replaceChildren(showDev ? devForm : tokenForm);
    toggle.textContent = showDev ? "Have a token? Paste it instead" : "Sign in with a name (dev stacks)";
    showMsg(msg, "");
  }
  toggle.addEventListener("click", () => { showDev = !showDev; sync(); });
  sync();

  return {
    el: h("section", { class: "center-card card" },
      h("h1", {}, "Welcome to Gavel"),
      h("p", { class: "muted" }, "Live auctions, in real time. Sign in to bid or sell."),
      notice ? h("p", { class: "msg msg-warn" }, notice) : null,
      body,
      msg,
      h("div", { class: "toggle-row" }, toggle)),
  };
}
