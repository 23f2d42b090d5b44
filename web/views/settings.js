// Server settings: the HTTP and WebSocket URLs. When a link proposes endpoints (?api=&ws=), this screen shows
// them pre-filled under a warning naming the host, and nothing is used or stored until the user confirms.
import { h, field, showMsg, setText } from "../dom.js";
import { hostsOf } from "../endpoints.js";

/**
 * current: {httpUrl, wsUrl, devTokens} in use; proposal: {httpUrl, wsUrl, devTokens} | null;
 * canUseDefaults: show "Use this server's defaults"; actions: onSave({httpUrl, wsUrl, devTokens}) -> error | null,
 * onDismiss(), onUseDefaults().
 */
export function settingsView({ current, proposal, canUseDefaults, onSave, onDismiss, onUseDefaults }) {
  const shown = proposal || current;
  const httpIn = h("input", { type: "url", required: true, testid: "settings-http", placeholder: "https://abc.execute-api.us-east-1.amazonaws.com", value: shown.httpUrl || "" });
  const wsIn = h("input", { type: "url", required: true, testid: "settings-ws", placeholder: "wss://def.execute-api.us-east-1.amazonaws.com/prod", value: shown.wsUrl || "" });
  const devIn = h("input", { type: "checkbox", testid: "settings-dev" });
  devIn.checked = !!shown.devTokens;
  const msg = h("p", { class: "msg", hidden: true, role: "alert", testid: "settings-error" });
  const save = h("button", { class: "btn btn-primary", type: "submit", testid: "settings-save" }, "Save");

  let warning = null;
  const hostName = h("strong", { testid: "settings-proposal-host" });
  const targets = h("span");
  if (proposal) {
    warning = h("div", { class: "msg msg-warn stack-tight", role: "alert", testid: "settings-proposal" },
      h("p", {}, "This link wants to connect you to ", hostName, "."),
      h("p", { class: "small" },
        "If you continue, you sign in again there and your access token is sent to ", targets,
        ". Only continue if you trust this server; otherwise keep the current one."));
  }
  const syncLabels = () => {
    const host = hostsOf(httpIn.value.trim(), wsIn.value.trim()) || "this server";
    if (!proposal) return;
    setText(hostName, host);
    setText(targets, `${httpIn.value.trim()} and ${wsIn.value.trim()}`);
    setText(save, `Connect to ${host}`);
  };
  httpIn.addEventListener("input", syncLabels);
  wsIn.addEventListener("input", syncLabels);
  syncLabels();

  const form = h("form", {
    class: "stack",
    onsubmit: async (e) => {
      e.preventDefault();
      save.disabled = true;
      const error = await onSave({ httpUrl: httpIn.value.trim(), wsUrl: wsIn.value.trim(), devTokens: devIn.checked });
      save.disabled = false;
      showMsg(msg, error || "");
    },
  },
  field("HTTP API URL", httpIn),
  field("WebSocket URL", wsIn),
  h("label", { class: "check" }, devIn, h("span", {}, "Dev sign-in available (local stacks)")),
  msg,
  h("div", { class: "row" },
    save,
    proposal
      ? h("button", { class: "btn btn-ghost", type: "button", testid: "settings-dismiss", onclick: onDismiss },
        current.httpUrl ? "Keep the current server" : "Ignore this link")
      : null,
    !proposal && canUseDefaults
      ? h("button", { class: "btn btn-ghost", type: "button", onclick: onUseDefaults }, "Use this server's defaults")
      : null,
    !proposal && current.httpUrl ? h("a", { class: "btn btn-ghost", href: "#/" }, "Cancel") : null));

  let intro;
  if (proposal) intro = "Check these addresses before you connect. They are remembered on this device once you confirm.";
  else if (current.httpUrl) intro = "Point the app at a local stack or a deployed one. These URLs are remembered on this device.";
  else intro = "We couldn't load this server's configuration. Enter the API and WebSocket URLs of your auction stack.";

  return {
    el: h("section", { class: "center-card card" },
      h("h1", {}, proposal ? "Connect to another server?" : "Server settings"),
      warning,
      h("p", { class: "muted" }, intro),
      form),
  };
}
