// Two browser pages bid against each other while a third watches; all three see the winner.
// Runs Debian's Chromium through playwright-core (never downloads a browser) against the real local stack.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const outDir = path.join(root, "target/test-output/browser");
const binary = process.env.AUCTION_LOCAL_BIN ?? path.join(root, "target/debug/auction-local");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

let stack;
let baseUrl;
let browser;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

async function waitForHttp(url, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

before(async () => {
  assert.ok(existsSync(binary), `build the local stack first: ${binary}`);
  assert.ok(existsSync(chromiumPath), `Chromium not found at ${chromiumPath}`);
  mkdirSync(outDir, { recursive: true });
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), "auction-browser-"));
  // --web-dir: serve this checkout's web/ (the binary's default is the tree it was built from).
  stack = spawn(binary, ["--port", String(port), "--data-dir", dataDir, "--schedule-ms", "200", "--web-dir", path.join(root, "web")], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  baseUrl = `http://127.0.0.1:${port}`;
  await waitForHttp(`${baseUrl}/config.json`, 15000);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
      "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  if (stack && stack.exitCode === null) {
    stack.kill("SIGINT");
    await new Promise((r) => stack.once("exit", r));
  }
});

async function signIn(page, name, role) {
  await page.goto(`${baseUrl}/`);
  await page.getByTestId("signin-name").fill(name);
  await page.getByTestId("signin-role").selectOption(role);
  await page.getByTestId("signin-submit").click();
  await page.getByTestId("signed-in-as").filter({ hasText: name }).waitFor();
}

async function cents(page) {
  return Number(await page.getByTestId("current-price").getAttribute("data-cents"));
}

async function bid(page, dollars) {
  await page.getByTestId("bid-input").fill(dollars);
  await page.getByTestId("bid-submit").click();
}

test("two bidders race, a viewer watches, everyone sees the winner", { timeout: 120_000 }, async () => {
  const pages = {};
  for (const [who, name, role, width] of [
    ["seller", "Sam Seller", "seller", 1280],
    ["ada", "Ada", "bidder", 420],
    ["grace", "Grace", "bidder", 420],
  ]) {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    page.on("pageerror", (e) => assert.fail(`${who}: page error ${e.message}`));
    pages[who] = page;
    await signIn(page, name, role);
  }

  // The seller creates an auction ending in 25 s and lands on its page (the watcher).
  const { seller, ada, grace } = pages;
  await seller.getByTestId("create-title").fill("Vintage Leica M3");
  await seller.getByTestId("create-description").fill("1957, serviced, with a 50mm Summicron");
  await seller.getByTestId("create-starting-price").fill("100");
  await seller.getByTestId("create-min-increment").fill("1");
  await seller.getByTestId("create-duration-seconds").fill("25");
  await seller.getByTestId("create-submit").click();
  await seller.waitForURL(/#\/auction\//);
  const auctionUrl = seller.url();
  await seller.getByTestId("connection-status").filter({ hasText: "live" }).waitFor();
  assert.equal(await seller.getByTestId("bid-submit").count(), 0, "a seller cannot bid on their own auction");

  for (const p of [ada, grace]) {
    await p.goto(auctionUrl);
    await p.getByTestId("connection-status").filter({ hasText: "live" }).waitFor();
  }

  // Too low is refused with the minimum shown.
  await bid(ada, "50");
  await ada.getByTestId("bid-error").filter({ hasText: "$100.00" }).waitFor();

  // They outbid each other; every page follows live.
  const sequence = [[ada, "100"], [grace, "105"], [ada, "110"], [grace, "120"], [ada, "150"]];
  for (const [page, dollars] of sequence) {
    await bid(page, dollars);
    const expected = Math.round(Number(dollars) * 100);
    for (const p of [seller, ada, grace]) {
      await p.waitForFunction((c) => Number(document.querySelector('[data-testid="current-price"]')?.dataset.cents) === c, expected);
    }
  }
  for (const p of [seller, ada, grace]) {
    assert.equal(await cents(p), 15000);
    assert.equal((await p.getByTestId("bid-count").textContent()).trim(), "5");
    assert.equal(await p.getByTestId("bid-item").count(), 5);
  }
  // A stale bid from Grace (below the new minimum) is refused and reaches nobody.
  await bid(grace, "140");
  await grace.getByTestId("bid-error").filter({ hasText: "$151.00" }).waitFor();
  assert.equal(await seller.getByTestId("bid-item").count(), 5);

  for (const [who, p] of Object.entries(pages)) {
    await p.screenshot({ path: path.join(outDir, `${who}-live.png`), fullPage: true });
  }

  // The schedule closes it; all three see the winner and the server closes the sockets.
  for (const p of [seller, ada, grace]) {
    await p.getByTestId("result").waitFor({ timeout: 60_000 });
    assert.match(await p.getByTestId("result-winner").textContent(), /Ada/);
    assert.match(await p.getByTestId("result-price").textContent(), /\$150\.00/);
    await p.getByTestId("connection-status").filter({ hasText: "ended" }).waitFor();
  }
  for (const [who, p] of Object.entries(pages)) {
    await p.screenshot({ path: path.join(outDir, `${who}-ended.png`), fullPage: true });
  }
});

test("a crafted ?api=&ws= link cannot redirect the token without a visible confirmation", { timeout: 60_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("pageerror", (e) => assert.fail(`page error ${e.message}`));
  const evil = [];
  await context.route((u) => u.hostname === "evil.example", (r) => { evil.push(r.request().url()); return r.abort(); });
  await signIn(page, "Tess", "bidder");
  const link = `${baseUrl}/?api=https://evil.example&ws=wss://evil.example/socket`;

  // The link only proposes: the settings screen names the host; nothing is stored or used yet.
  await page.goto(link);
  await page.getByTestId("settings-proposal").filter({ hasText: "evil.example" }).waitFor();
  assert.equal(await page.getByTestId("settings-http").inputValue(), "https://evil.example");
  assert.equal(await page.evaluate(() => localStorage.getItem("auction.endpoints")), null);
  await page.getByTestId("settings-dismiss").click();
  await page.getByTestId("auction-list").waitFor({ state: "attached" });
  await page.getByTestId("signed-in-as").filter({ hasText: "Tess" }).waitFor();

  // Confirming switches servers, and the session made against this one is not used there: sign in again.
  await page.goto(link);
  await page.getByTestId("settings-save").filter({ hasText: "evil.example" }).click();
  await page.getByTestId("signin-token").waitFor();
  assert.equal(await page.getByTestId("signed-in-as").count(), 0);
  assert.deepEqual(evil, [], "nothing was sent to the link's host");
  await context.close();
});

// ------------------------------------------------------------------ issue 10 (needs the issue-10 server)
// Built against the wire contract of issue 10: softCloseSeconds, max bids (proxy), bid.outbid, auction.viewers,
// leading in the 201, reserve, startsAt. The old server fails these.

/** A fresh browser context signed in as name/role, with page errors failing the test. */
async function user(name, role, width = 420) {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => assert.fail(`${name}: page error ${e.message}`));
  await signIn(page, name, role);
  return page;
}

/** The seller fills the create form and lands on the new auction's page (live). Returns its URL. */
async function createAuction(seller, { title, start = "10", step = "1", duration = "30", softClose, reserve, startsAt }) {
  await seller.getByTestId("create-title").fill(title);
  await seller.getByTestId("create-starting-price").fill(start);
  await seller.getByTestId("create-min-increment").fill(step);
  await seller.getByTestId("create-duration-seconds").fill(duration);
  if (softClose != null) await seller.getByTestId("create-soft-close").fill(String(softClose));
  if (reserve != null) await seller.getByTestId("create-reserve-price").fill(reserve);
  if (startsAt != null) await seller.getByTestId("create-starts-at").fill(startsAt);
  await seller.getByTestId("create-submit").click();
  await seller.waitForURL(/#\/auction\//);
  if (startsAt == null) await seller.getByTestId("connection-status").filter({ hasText: "live" }).waitFor();
  else await seller.getByTestId("countdown-box").waitFor(); // the contract says nothing of sockets before the start
  return seller.url();
}

async function open(page, url, { live = true } = {}) {
  await page.goto(url);
  if (live) await page.getByTestId("connection-status").filter({ hasText: "live" }).waitFor();
  else await page.getByTestId("countdown-box").waitFor();
}

async function endsAt(page) {
  return Number(await page.getByTestId("countdown-box").getAttribute("data-ends-at"));
}

/** Resolves once the countdown flashes (the class lasts ~1.2 s): returns the "+N s" it shows. Arm before the bid. */
function flash(page) {
  return page.waitForFunction(() => {
    const box = document.querySelector('[data-testid="countdown-box"]');
    return box?.classList.contains("extended") && box.querySelector('[data-testid="countdown-extended"]').textContent;
  }, null, { timeout: 10_000 }).then((h) => h.jsonValue());
}

async function priceIs(page, c) {
  await page.waitForFunction((c) => Number(document.querySelector('[data-testid="current-price"]')?.dataset.cents) === c, c);
}

async function maxBid(page, dollars) {
  await page.getByTestId("bid-mode-max").click();
  await page.getByTestId("bid-input").fill(dollars);
  await page.getByTestId("bid-submit").click();
}

test("soft close: a bid in the last seconds moves the end later and flashes the countdown", { timeout: 120_000 }, async () => {
  const seller = await user("Sol Seller", "seller", 1280);
  const ada = await user("Ada", "bidder");
  const url = await createAuction(seller, { title: "Soft-close lamp", duration: "15", softClose: 8 });
  await seller.getByTestId("soft-close").filter({ hasText: "Soft close: 8 s" }).waitFor();
  await open(ada, url);
  await ada.getByTestId("soft-close").filter({ hasText: "Soft close: 8 s" }).waitFor();

  // Inside the last 8 s (6 s left): a bid must push the end to about now + 8 s.
  await ada.waitForFunction(() => Number(document.querySelector('[data-testid="countdown-box"]').dataset.endsAt) - Date.now() < 6_000,
    null, { timeout: 20_000 });
  const before = await endsAt(ada);
  const flashes = [flash(ada), flash(seller)];
  await bid(ada, "10");
  const [adaFlash, sellerFlash] = await Promise.all(flashes);
  assert.match(adaFlash, /^\+\d/, "the bidder sees the extension");
  assert.match(sellerFlash, /^\+\d/, "a watcher sees it from the frame");
  for (const p of [ada, seller]) {
    const after = await endsAt(p);
    assert.ok(after > before, `endsAt moved later (${before} -> ${after})`);
    assert.ok(after - Date.now() > 6_000, "the countdown shows more time than before the bid");
    assert.equal(await p.getByTestId("countdown-box").getAttribute("data-extensions"), "1");
  }
  await ada.screenshot({ path: path.join(outDir, "softclose-ada.png"), fullPage: true });

  for (const p of [ada, seller]) {
    await p.getByTestId("result").waitFor({ timeout: 30_000 });
    assert.match(await p.getByTestId("result-winner").textContent(), /Ada/);
  }
  await ada.getByText("Congratulations — you won!").waitFor();
  await ada.context().close();
  await seller.context().close();
});

test("sudden death: the badge says so and a last-second bid does not extend", { timeout: 90_000 }, async () => {
  const seller = await user("Sid Seller", "seller", 1280);
  const ada = await user("Ada", "bidder");
  const url = await createAuction(seller, { title: "Sudden-death clock", duration: "10", softClose: 0 });
  await open(ada, url);
  await ada.getByTestId("soft-close").filter({ hasText: "Sudden death" }).waitFor();
  await ada.waitForFunction(() => Number(document.querySelector('[data-testid="countdown-box"]').dataset.endsAt) - Date.now() < 4_000,
    null, { timeout: 20_000 });
  const before = await endsAt(ada);
  await bid(ada, "10");
  await ada.getByTestId("bid-success").waitFor();
  await seller.getByTestId("bid-item").first().waitFor();
  assert.equal(await endsAt(ada), before);
  assert.equal(await seller.getByTestId("countdown-box").getAttribute("data-extensions"), "0");
  await seller.getByTestId("result").waitFor({ timeout: 20_000 });
  assert.ok(Date.now() < before + 5_000, "closed on time");
  await ada.context().close();
  await seller.context().close();
});

test("a max bid answers a rival by itself; the previous leader is told they were outbid", { timeout: 120_000 }, async () => {
  const seller = await user("Max Seller", "seller", 1280);
  const ada = await user("Ada", "bidder");
  const grace = await user("Grace", "bidder");
  const url = await createAuction(seller, { title: "Proxy-bid camera", duration: "90", softClose: 0 });
  await open(ada, url);
  await open(grace, url);

  // Ada sets a $50 max: alone, she leads at the opening price.
  await maxBid(ada, "50");
  await ada.getByTestId("bid-success").filter({ hasText: "max bid of $50.00 is set" }).waitFor();
  await ada.getByTestId("you-lead").waitFor();
  for (const p of [seller, ada, grace]) await priceIs(p, 1_000);
  assert.equal(await grace.getByTestId("you-lead").isVisible(), false);

  // Grace bids $20: accepted, then answered at once by Ada's max ($21). Ada still leads.
  await bid(grace, "20");
  await grace.getByTestId("bid-warning").filter({ hasText: "outbid" }).waitFor();
  for (const p of [seller, ada, grace]) await priceIs(p, 2_100);
  await grace.getByTestId("outbid-notice").filter({ hasText: "$21.00" }).waitFor();
  await ada.getByTestId("you-lead").waitFor();
  assert.equal(await ada.getByTestId("outbid-notice").isVisible(), false);
  const top = seller.getByTestId("bid-item").first();
  await top.filter({ hasText: "Ada" }).filter({ hasText: "$21.00" }).waitFor();
  await seller.getByTestId("bid-item").filter({ hasText: "Grace" }).filter({ hasText: "$20.00" }).waitFor();
  // Three sockets on the auction: the viewer count (auction.viewers, a frame or a batch item) reaches 3.
  await seller.waitForFunction(() => Number(document.querySelector('[data-testid="viewer-count"]')?.dataset.count) >= 3,
    null, { timeout: 15_000 });
  assert.match(await seller.getByTestId("viewer-count").textContent(), /^\d+ watching$/);
  await ada.screenshot({ path: path.join(outDir, "proxy-ada.png"), fullPage: true });
  await grace.screenshot({ path: path.join(outDir, "proxy-grace.png"), fullPage: true });

  // Grace sets a $100 max: she leads at $51 (Ada's max + one step); Ada gets the outbid notice with the minimum.
  await maxBid(grace, "100");
  await grace.getByTestId("bid-success").filter({ hasText: "$51.00" }).waitFor();
  await grace.getByTestId("you-lead").waitFor();
  for (const p of [seller, ada, grace]) await priceIs(p, 5_100);
  const notice = ada.getByTestId("outbid-notice");
  await notice.filter({ hasText: "You've been outbid" }).waitFor();
  assert.match(await notice.textContent(), /\$51\.00.*\$52\.00/);
  assert.equal(await ada.getByTestId("you-lead").isVisible(), false);
  await ada.screenshot({ path: path.join(outDir, "outbid-ada.png"), fullPage: true });

  // The leader's plain bid is refused (already_leading) and the form offers a max bid instead.
  await grace.getByTestId("bid-mode-amount").click();
  await bid(grace, "60");
  await grace.getByTestId("bid-error").filter({ hasText: "already the high bidder" }).waitFor();
  assert.equal(await grace.getByTestId("bid-mode-max").getAttribute("aria-pressed"), "true");
  for (const p of [seller, ada, grace]) await p.context().close();
});

test("a reserve shows met / not met, and an auction that ends below it is unsold", { timeout: 90_000 }, async () => {
  const seller = await user("Res Seller", "seller", 1280);
  const ada = await user("Ada", "bidder");
  const url = await createAuction(seller, { title: "Reserve vase", duration: "12", softClose: 0, reserve: "30" });
  await open(ada, url);
  await ada.getByTestId("reserve-status").filter({ hasText: "Reserve not met" }).waitFor();
  await bid(ada, "10");
  await priceIs(seller, 1_000);
  assert.equal(await seller.getByTestId("reserve-status").getAttribute("data-state"), "notMet");
  for (const p of [ada, seller]) {
    await p.getByTestId("result").waitFor({ timeout: 30_000 });
    await p.getByTestId("result-reserve").filter({ hasText: "Reserve not met" }).waitFor();
    assert.equal(await p.getByTestId("result-winner").count(), 0);
  }
  await ada.context().close();
  await seller.context().close();
});

/** A datetime-local value (local time, with seconds) for epoch ms. */
function localInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

test("a scheduled auction counts down to its start, with bidding closed until then", { timeout: 90_000 }, async () => {
  const seller = await user("Sched Seller", "seller", 1280);
  const ada = await user("Ada", "bidder");
  const url = await createAuction(seller, { title: "Scheduled print", duration: "30", startsAt: localInput(Date.now() + 15_000) });
  await open(ada, url, { live: false });
  const box = ada.getByTestId("countdown-box");
  assert.equal(await box.getAttribute("data-phase"), "scheduled");
  assert.match(await box.textContent(), /Starts in/);
  assert.equal(await ada.getByTestId("bid-submit").isDisabled(), true);
  await ada.getByTestId("starts-at").waitFor();
  await ada.screenshot({ path: path.join(outDir, "scheduled-ada.png"), fullPage: true });
  // At the start the form opens and a bid goes through.
  await ada.waitForFunction(() => document.querySelector('[data-testid="countdown-box"]').dataset.phase === "active", null, { timeout: 30_000 });
  await ada.waitForFunction(() => !document.querySelector('[data-testid="bid-submit"]').disabled);
  await bid(ada, "10");
  await ada.getByTestId("bid-success").waitFor();
  await priceIs(seller, 1_000);
  await ada.context().close();
  await seller.context().close();
});
