// The settings page: save endpoints, or confirm / turn down the ones a link proposes (see ../endpoints.js).
import {
  config, loadConfig, saveOverride, clearOverride, hasOverride, pendingProposal, dismissProposal,
} from "../api.js";
import { checkEndpoints } from "../endpoints.js";
import { settingsView } from "../views/settings.js";

export function settingsPage(nav) {
  const done = async () => {
    await loadConfig();
    nav.go("#/"); // a session made against other endpoints is refused there: the user signs in again
  };
  return settingsView({
    current: { httpUrl: config.httpUrl, wsUrl: config.wsUrl, devTokens: config.devTokens },
    proposal: pendingProposal(),
    canUseDefaults: !!config.defaults && hasOverride(),
    async onSave({ httpUrl, wsUrl, devTokens }) {
      const c = checkEndpoints(httpUrl, wsUrl);
      if (!c.ok) return c.error;
      saveOverride(c.httpUrl, c.wsUrl, devTokens);
      await done();
      return null;
    },
    async onDismiss() {
      dismissProposal();
      await done();
    },
    async onUseDefaults() {
      clearOverride();
      await done();
    },
  });
}
