// The seller's create-auction form. The rules (the server's limits) are in auction-form.js; the page submits.
import { h, field, showMsg, setText } from "../dom.js";
import { humanDuration } from "../format.js";
import { describeLadder, DEFAULT_LADDER } from "../money.js";
import {
  TITLE_MAX, DESCRIPTION_MAX, DURATION_MIN, DURATION_MAX, SOFT_CLOSE_MAX, SOFT_CLOSE_DEFAULT,
} from "../auction-form.js";

const PRESETS = [[30, "30 s"], [60, "1 min"], [300, "5 min"], [3600, "1 h"], [86_400, "1 day"]];

/** onSubmit(values) -> Promise<{ok: true} | {ok: false, field?, message}> */
export function createFormView({ onSubmit }) {
  const title = h("input", { type: "text", testid: "create-title", required: true, placeholder: "Vintage film camera" });
  const desc = h("textarea", { testid: "create-description", rows: "3", placeholder: "Condition, what's included, shipping…" });
  const start = h("input", { type: "text", inputmode: "decimal", testid: "create-starting-price", required: true, placeholder: "25.00", autocomplete: "off" });
  const inc = h("input", { type: "text", inputmode: "decimal", testid: "create-min-increment", placeholder: "Standard ladder", autocomplete: "off" });
  const dur = h("input", { type: "number", testid: "create-duration-seconds", required: true, min: String(DURATION_MIN), max: String(DURATION_MAX), step: "1", value: "300", inputmode: "numeric" });
  const durHint = h("span", { class: "field-hint" });
  const soft = h("input", { type: "number", testid: "create-soft-close", min: "0", max: String(SOFT_CLOSE_MAX), step: "1", value: String(SOFT_CLOSE_DEFAULT), inputmode: "numeric" });
  const softHint = h("span", { class: "field-hint" });
  const reserve = h("input", { type: "text", inputmode: "decimal", testid: "create-reserve-price", placeholder: "Optional", autocomplete: "off" });
  const startsAt = h("input", { type: "datetime-local", testid: "create-starts-at", step: "1" });
  const incHint = h("span", { class: "field-hint", testid: "create-increment-hint" });
  const msg = h("p", { class: "msg", hidden: true, role: "alert", testid: "create-error" });
  const submit = h("button", { class: "btn btn-primary btn-block", type: "submit", testid: "create-submit" }, "Start auction");

  const updateHint = () => {
    const secs = Number(dur.value);
    const inRange = Number.isInteger(secs) && secs >= DURATION_MIN && secs <= DURATION_MAX;
    setText(durHint, inRange ? `Runs for ${humanDuration(secs)}` : "From 10 seconds to 30 days");
  };
  dur.addEventListener("input", updateHint);
  updateHint();
  const updateSoft = () => {
    const n = Number(soft.value);
    setText(softHint, soft.value.trim() === "" ? `Default ${SOFT_CLOSE_DEFAULT} s`
      : n === 0 ? "Sudden death: it ends exactly on time"
        : Number.isInteger(n) && n > 0 && n <= SOFT_CLOSE_MAX ? `A bid in the last ${n} s extends it` : `0 to ${SOFT_CLOSE_MAX} seconds`);
  };
  soft.addEventListener("input", updateSoft);
  updateSoft();
  const updateInc = () => setText(incHint, inc.value.trim()
    ? "A fixed step at every price"
    : `Blank: the standard ladder (${describeLadder(DEFAULT_LADDER)})`);
  inc.addEventListener("input", updateInc);
  updateInc();

  const presets = h("div", { class: "chips" },
    PRESETS.map(([v, label]) =>
      h("button", { type: "button", class: "chip", onclick: () => { dur.value = String(v); updateHint(); } }, label)));

  const fieldsByName = {
    title, description: desc, startingPrice: start, minIncrement: inc, durationSeconds: dur,
    softCloseSeconds: soft, reservePrice: reserve, startsAt,
  };
  const clearInvalid = () => Object.values(fieldsByName).forEach((f) => f.removeAttribute("aria-invalid"));
  const fail = (text, f) => {
    showMsg(msg, text);
    if (f) {
      f.setAttribute("aria-invalid", "true");
      f.focus();
    }
  };

  const form = h("form", {
    class: "stack",
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      clearInvalid();
      showMsg(msg, "");
      submit.disabled = true;
      submit.textContent = "Starting…";
      const r = await onSubmit({
        title: title.value, description: desc.value, startingPrice: start.value,
        minIncrement: inc.value, durationSeconds: dur.value,
        softCloseSeconds: soft.value, reservePrice: reserve.value, startsAt: startsAt.value,
      });
      if (r.ok) return; // the page moves on
      submit.disabled = false;
      submit.textContent = "Start auction";
      fail(r.message, fieldsByName[r.field]);
    },
  },
  field("Title", title, `Up to ${TITLE_MAX} characters`),
  field("Description", desc, `Optional, up to ${DESCRIPTION_MAX} characters`),
  h("div", { class: "grid-2" },
    field("Starting price ($)", start),
    field("Reserve price ($)", reserve, "Hidden; unsold below it")),
  field("Bid step ($)", inc, incHint),
  h("label", { class: "field" },
    h("span", { class: "field-label" }, "Duration (seconds)"),
    dur, presets, durHint),
  field("Soft close (seconds)", soft, softHint),
  field("Starts at", startsAt, "Optional; blank starts now"),
  msg,
  submit);

  return {
    el: h("aside", { class: "card create-card" },
      h("h2", {}, "Create an auction"),
      h("p", { class: "muted small" }, "It goes live now (or at the start you pick) and ends automatically."),
      form),
  };
}
