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
  stack = spawn(binary, ["--port", String(port), "--data-dir", dataDir, "--schedule-ms", "200"], {
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
