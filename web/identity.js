// Who "you" are on the wire. The server never sends user ids to viewers, only public ids (issue 10 contract):
//   publicId = "p-" + the first 20 hex digits of SHA-256(UTF-8 "auction-public-id:" + sub)
// where sub is the JWT's `sub` claim. The page compares these ids (a bid's bidderId, the auction's leaderId, the
// winner's winnerId) with its own; display names are never used to decide who you are.
// Pure apart from WebCrypto (browsers and Node ≥ 19 have `crypto.subtle`).

export const PUBLIC_ID_PREFIX = "p-";
const DOMAIN = "auction-public-id:";

/** The `sub` claim of a JWT (payload only: the signature is the server's business), or null. */
export function jwtSub(token) {
  try {
    const part = String(token ?? "").split(".")[1];
    if (!part) return null;
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return typeof claims?.sub === "string" && claims.sub ? claims.sub : null;
  } catch {
    return null;
  }
}

/**
 * The public id of the user with this `sub`, or null when it cannot be computed (no sub, or no WebCrypto: a page
 * served over plain http from a non-local address is not a secure context, so `crypto.subtle` is missing).
 */
export async function publicId(sub) {
  if (typeof sub !== "string" || !sub) return null;
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  const digest = await subtle.digest("SHA-256", new TextEncoder().encode(DOMAIN + sub));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return PUBLIC_ID_PREFIX + hex.slice(0, 20);
}

/** The public id of the session's user (from its token's `sub`), or null. */
export function sessionPublicId(session) {
  return publicId(jwtSub(session?.token));
}
