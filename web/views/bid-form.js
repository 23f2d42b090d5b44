// The bid form's DOM. It renders the state machine in ../bid-form.js and reports what the user does.
import { h, setText, showMsg } from "../dom.js";
import { formatCents, addSteps, stepAt } from "../money.js";
import { QUICK_STEPS, submitLabel } from "../bid-form.js";

/** onInput(value), onQuick(steps), onMode(mode), onSubmit() */
export function bidFormView({ onInput, onQuick, onMode, onSubmit }) {
  const input = h("input", { type: "text", inputmode: "decimal", autocomplete: "off", testid: "bid-input", id: "bid-amount", "aria-label": "Your bid in dollars" });
  const submit = h("button", { class: "btn btn-primary", type: "submit", testid: "bid-submit" }, "Place bid");
  const label = h("label", { class: "field-label", for: "bid-amount" }, "Your bid");
  const modeAmount = h("button", { type: "button", class: "seg", testid: "bid-mode-amount", "aria-pressed": "true", onclick: () => onMode("amount") }, "Bid");
  const modeMax = h("button", { type: "button", class: "seg", testid: "bid-mode-max", "aria-pressed": "false", onclick: () => onMode("max") }, "Max bid");
  const modeHelp = h("p", { class: "field-hint", testid: "bid-mode-help" });
  const hint = h("p", { class: "field-hint", testid: "bid-hint" });
  const steps = h("p", { class: "field-hint", testid: "bid-steps" });
  const error = h("p", { class: "msg msg-error", hidden: true, role: "alert", testid: "bid-error" });
  const warning = h("p", { class: "msg msg-warn", hidden: true, role: "alert", testid: "bid-warning" });
  const ok = h("p", { class: "msg msg-ok", hidden: true, role: "status", testid: "bid-success" });
  const quick = QUICK_STEPS.map((k) =>
    h("button", { type: "button", class: "chip", testid: `bid-quick-${k}`, onclick: () => onQuick(k) }));
  input.addEventListener("input", () => onInput(input.value));

  const el = h("form", { class: "bid-form", novalidate: true, testid: "bid-form", onsubmit: (e) => { e.preventDefault(); onSubmit(); } },
    h("div", { class: "bid-form-top" }, label,
      h("div", { class: "segmented", role: "group", "aria-label": "Bid type" }, modeAmount, modeMax)),
    h("div", { class: "bid-row" },
      h("div", { class: "money-input" }, h("span", { class: "currency", "aria-hidden": "true" }, "$"), input),
      submit),
    h("div", { class: "chips" }, quick),
    hint,
    steps,
    modeHelp,
    error,
    warning,
    ok);

  return {
    el,
    isFocused: () => document.activeElement === input,
    focus: () => input.focus(),

    /** form: the machine's state; minimumBid and increments (the ladder): from the auction state. */
    render(form, { minimumBid, increments }) {
      const max = form.mode === "max";
      const off = form.closed || form.notYet;
      if (input.value !== form.value) input.value = form.value;
      setText(submit, submitLabel(form));
      submit.disabled = form.busy || off;
      input.disabled = off;
      input.setAttribute("aria-label", max ? "Your max bid in dollars" : "Your bid in dollars");
      setText(label, max ? "Your max bid" : "Your bid");
      modeAmount.setAttribute("aria-pressed", String(!max));
      modeMax.setAttribute("aria-pressed", String(max));
      modeAmount.disabled = modeMax.disabled = off || form.busy;
      quick.forEach((b, i) => {
        const base = minimumBid ?? 0;
        setText(b, `+${formatCents(addSteps(increments, base, QUICK_STEPS[i]) - base)}`);
        b.disabled = off || minimumBid == null;
      });
      let text = "";
      if (form.closed) text = "This auction has ended.";
      else if (form.notYet) text = "Bidding opens when the auction starts.";
      else if (minimumBid != null) text = `Minimum bid ${formatCents(minimumBid)}`;
      setText(hint, text);
      const showSteps = !off && minimumBid != null;
      setText(steps, showSteps
        ? `Steps of ${formatCents(stepAt(increments, minimumBid))} at this price · then ${[1, 2, 3].map((k) => formatCents(addSteps(increments, minimumBid, k))).join(", ")}…`
        : "");
      steps.hidden = !showSteps;
      setText(modeHelp, off ? "" : max
        ? (form.maxSet != null
          ? `Your max: ${formatCents(form.maxSet)}. We bid for you, one step at a time, only when someone outbids you.`
          : "Set the most you'd pay: we bid for you, one step at a time, only when someone outbids you. Others never see your max.")
        : "");
      modeHelp.hidden = !modeHelp.textContent;
      const n = form.notice;
      showMsg(error, n?.kind === "error" ? n.text : "", "error");
      showMsg(warning, n?.kind === "warn" ? n.text : "", "warn");
      ok.textContent = n?.kind === "ok" ? n.text : "";
      ok.hidden = n?.kind !== "ok";
      el.classList.toggle("closed", form.closed);
      el.classList.toggle("not-yet", !form.closed && form.notYet);
    },
  };
}
