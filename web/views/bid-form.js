// The bid form's DOM. It renders the state machine in ../bid-form.js and reports what the user does.
import { h, setText, showMsg } from "../dom.js";
import { formatCents } from "../money.js";
import { QUICK_STEPS, submitLabel } from "../bid-form.js";

/** onInput(value), onQuick(steps), onSubmit() */
export function bidFormView({ onInput, onQuick, onSubmit }) {
  const input = h("input", { type: "text", inputmode: "decimal", autocomplete: "off", testid: "bid-input", id: "bid-amount", "aria-label": "Your bid in dollars" });
  const submit = h("button", { class: "btn btn-primary", type: "submit", testid: "bid-submit" }, "Place bid");
  const hint = h("p", { class: "field-hint", testid: "bid-hint" });
  const error = h("p", { class: "msg msg-error", hidden: true, role: "alert", testid: "bid-error" });
  const ok = h("p", { class: "msg msg-ok", hidden: true, role: "status", testid: "bid-success" });
  const quick = QUICK_STEPS.map((k) =>
    h("button", { type: "button", class: "chip", testid: `bid-quick-${k}`, onclick: () => onQuick(k) }));
  input.addEventListener("input", () => onInput(input.value));

  const el = h("form", { class: "bid-form", novalidate: true, onsubmit: (e) => { e.preventDefault(); onSubmit(); } },
    h("label", { class: "field-label", for: "bid-amount" }, "Your bid"),
    h("div", { class: "bid-row" },
      h("div", { class: "money-input" }, h("span", { class: "currency", "aria-hidden": "true" }, "$"), input),
      submit),
    h("div", { class: "chips" }, quick),
    hint,
    error,
    ok);

  return {
    el,
    isFocused: () => document.activeElement === input,
    focus: () => input.focus(),

    /** form: the machine's state; minimumBid and increment: from the auction state. */
    render(form, { minimumBid, increment }) {
      if (input.value !== form.value) input.value = form.value;
      setText(submit, submitLabel(form));
      submit.disabled = form.busy || form.closed;
      input.disabled = form.closed;
      quick.forEach((b, i) => {
        setText(b, `+${formatCents(QUICK_STEPS[i] * increment)}`);
        b.disabled = form.closed || minimumBid == null;
      });
      setText(hint, form.closed ? "This auction has ended." : minimumBid != null ? `Minimum bid ${formatCents(minimumBid)}` : "");
      const n = form.notice;
      showMsg(error, n?.kind === "error" ? n.text : "", "error");
      ok.textContent = n?.kind === "ok" ? n.text : "";
      ok.hidden = n?.kind !== "ok";
      el.classList.toggle("closed", form.closed);
    },
  };
}
