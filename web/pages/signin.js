// The sign-in page: a dev token for a name and role, or a pasted JWT. The session is bound to the endpoints.
import { config, Api, setSession, sessionFromJwt, tokenExpired, errorMessage } from "../api.js";
import { signInView } from "../views/signin.js";

export function signInPage(nav) {
  return signInView({
    notice: nav.takeFlash(),
    devTokens: config.devTokens,
    async devSignIn(name, role) {
      try {
        const r = await Api.devToken(name, role);
        setSession({ token: r.token, userId: r.userId, name: r.name || name, role: r.role || role });
        nav.route();
        return null;
      } catch (err) {
        return errorMessage(err);
      }
    },
    tokenSignIn(text) {
      const s = sessionFromJwt(text);
      if (!s) return "That doesn't look like a valid token.";
      if (tokenExpired(s.token)) return "That token has expired.";
      setSession(s);
      nav.route();
      return null;
    },
  });
}
