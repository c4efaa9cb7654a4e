// The www-demo page as a person uses it, in headless Chromium through playwright-core, against the
// emulator that scripts/with-emulator.sh started (it serves www-demo/ at / and pkg/ under /pkg/).
//
// Uploads files to each service and checks the bytes the server kept, pauses and resumes one
// upload from the keyboard, reloads the page mid-upload and resumes by picking the file again,
// and shows the error messages for a refusing server, a dropping network and expired tokens.
// Screenshots: test-output/demo-{before,during,paused,errors,after}.png (UPDATE_DOCS_SCREENSHOT=1 also
// writes docs/demo.png).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  OUTPUT,
  ROOT,
  data,
  download,
  emulator,
  lastRequest,
  launchChromium,
  partRequests,
  setFaults,
  watch,
} from "./lib.mjs";

const MiB = 1024 * 1024;
const FILES = path.join(OUTPUT, "demo-files");
const SERVICES = ["wcs", "ufile", "wantu"];
const LABEL = { wcs: "WCS", ufile: "UFile", wantu: "Wantu" };

/** Real files on disk: a File picked from disk keeps its name, size and mtime across a reload,
 *  which is what finds the checkpoint again. */
const files = {};
function makeFile(name, size, seed) {
  const file = path.join(FILES, name);
  const bytes = data(size, seed);
  writeFileSync(file, bytes);
  const mtime = new Date("2025-01-02T03:04:05Z");
  utimesSync(file, mtime, mtime);
  files[name] = { path: file, bytes };
}

let browser;
let page;

const item = (service, key) => `li.file[data-service="${service}"][data-key="${key}"]`;

async function waitState(service, key, state, timeout = 60_000) {
  const selector = `${item(service, key)}[data-state="${state}"]`;
  try {
    await page.waitForSelector(selector, { timeout });
  } catch (err) {
    const now = await page.$eval(item(service, key), (el) => `${el.dataset.state}: ${el.innerText}`).catch(() => "absent");
    throw new Error(`${service} ${key} never reached ${state} (${now})`, { cause: err });
  }
}

async function chooseService(service) {
  // From the keyboard: arrow keys move through the radio group.
  await page.focus("input[name=service]:checked");
  for (let i = 0; i < 3 && (await page.$eval("input[name=service]:checked", (e) => e.value)) !== service; i++) {
    await page.keyboard.press("ArrowRight");
  }
  assert.equal(await page.$eval("input[name=service]:checked", (e) => e.value), service);
}

async function progressOf(service, key) {
  return page.$eval(`${item(service, key)} progress`, (p) => p.value);
}

/** Wait until the service has confirmed this share of the file (the bar runs ahead: it shows the
 *  bytes sent). */
async function waitConfirmed(service, key, atLeast) {
  await page.waitForFunction(
    ([selector, min]) => {
      const el = document.querySelector(selector);
      return el && Number(el.dataset.total) > 0 && Number(el.dataset.confirmed) / Number(el.dataset.total) >= min;
    },
    [`${item(service, key)}:not([data-state=done])`, atLeast],
    { timeout: 60_000, polling: 50 },
  );
}

/**
 * Waits (a few seconds at most) until the element's text matches: the page renders on animation
 * frames and refreshes speeds twice a second, so the text may trail the data it was checked by.
 */
async function waitText(selector, pattern) {
  try {
    await page.waitForFunction(
      ([sel, source, flags]) => new RegExp(source, flags).test(document.querySelector(sel)?.textContent ?? ""),
      [selector, pattern.source, pattern.flags],
      { timeout: 5_000, polling: 50 },
    );
  } catch {
    // Fail with the text that was there, not with a timeout.
    assert.match(await page.$eval(selector, (e) => e.textContent), pattern);
  }
}

/** The result the page shows, checked against itself and against the bytes the server kept. */
async function checkResult(service, key, file) {
  const shown = await page.$eval(item(service, key), (el) => ({
    key: el.querySelector(".r-key").textContent,
    local: el.querySelector(".r-local").textContent,
    server: el.querySelector(".r-server").textContent,
    match: el.querySelector(".r-match").textContent,
    link: el.querySelector(".r-link").href,
    size: el.querySelector(".r-size").textContent,
  }));
  assert.equal(shown.key, key);
  assert.ok(shown.local.length > 10 && shown.local.toLowerCase() === shown.server.toLowerCase(), JSON.stringify(shown));
  assert.match(shown.match, /matches/);
  assert.ok(shown.size.includes(file.bytes.length.toLocaleString("en")), shown.size);
  const stored = await download(service, key);
  assert.ok(stored.equals(file.bytes), `${service} ${key}: the server's bytes differ (${stored.length} bytes)`);
  // The page's download link is the same route.
  const linked = Buffer.from(await (await fetch(shown.link)).arrayBuffer());
  assert.ok(linked.equals(file.bytes), `${service} ${key}: the download link serves other bytes`);
}

describe("www-demo in Chromium", { concurrency: false }, () => {
  before(async () => {
    mkdirSync(FILES, { recursive: true });
    makeFile("notes.txt", 100_000, 1);
    makeFile("photo.bin", 9 * MiB + 3, 2);
    makeFile("video.bin", 22 * MiB + 5, 3);
    makeFile("backup.bin", 22 * MiB + 7, 4);
    for (const s of SERVICES) makeFile(`small-${s}.txt`, 1000 + s.length, 5);
    makeFile("damaged.bin", 9 * MiB + 5, 8);
    await setFaults({});
    browser = await launchChromium();
    // A context of its own (not browser.newPage's), so that a test can open a second tab in it.
    page = await (await browser.newContext({ viewport: { width: 1040, height: 1060 } })).newPage();
    watch(page, "demo");
    await page.goto(`${emulator.demo}/`);
    await page.waitForSelector("body[data-ready=true]");
  });

  after(async () => {
    await setFaults({}).catch(() => {});
    await browser?.close();
  });

  it("shows the services and buckets from the backend", async () => {
    await page.screenshot({ path: path.join(OUTPUT, "demo-before.png"), fullPage: true });
    assert.deepEqual(await page.$$eval("input[name=service]", (r) => r.map((e) => e.value)), SERVICES);
    assert.equal(await page.$eval("#bucket", (s) => s.value), "public");
    assert.equal(await page.$eval("#files", (l) => l.children.length), 0);
    // Keyboard: the skip link, then the file picker itself, are reachable with Tab.
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.className), "skip");
  });

  for (const service of SERVICES) {
    it(`uploads several files to ${LABEL[service]} and the server keeps their bytes`, async () => {
      const names = ["notes.txt", "photo.bin"];
      if (service === "wcs") {
        // Three files at once, slowed down (every block waits 2.5 s) to look at them mid-way.
        names.push("video.bin");
        await setFaults({ stallRate: 1, stallMs: 2500, services: [service], pathContains: "/mkblk" });
      }
      await chooseService(service);
      await page.setInputFiles("#picker", names.map((n) => files[n].path));
      if (service === "wcs") {
        await waitConfirmed(service, "demo/video.bin", 0.1);
        // One bar per file plus the total, with speed and time left.
        await waitText(`${item(service, "demo/video.bin")} .status`, /MiB\/s · \d+ s left/);
        await waitText("#total-text", /of 3 files · .* MiB\/s · \d+ s left/);
        await page.screenshot({ path: path.join(OUTPUT, "demo-during.png") });
        await setFaults({});
      }
      for (const name of names) await waitState(service, `demo/${name}`, "done");
      for (const name of names) await checkResult(service, `demo/${name}`, files[name]);
      const total = await page.$eval("#total-text", (e) => e.textContent);
      assert.match(total, /files · [\d.]+ MiB of [\d.]+ MiB/);
    });
  }

  it("pauses and resumes one upload from the keyboard, sending only the missing parts", async () => {
    const service = "ufile";
    const key = "demo/video.bin";
    // Hold one part (UFile numbers them from 0) for long, so that there is time to pause while
    // the others are done.
    await setFaults({ stallRate: 1, stallMs: 15_000, services: [service], pathContains: "partNumber=3" });
    await chooseService(service);
    const since = await lastRequest();
    await page.setInputFiles("#picker", files["video.bin"].path);
    await waitConfirmed(service, key, 0.5);
    // Speed and time left are on show while it runs.
    await waitText(`${item(service, key)} .status`, /MiB\/s · \d+ s left/);
    await waitText("#total-text", /\/s/);
    await page.focus(`${item(service, key)} [data-action=pause]`);
    await page.keyboard.press("Enter");
    await waitState(service, key, "paused");
    await page.screenshot({ path: path.join(OUTPUT, "demo-paused.png") });
    const sentBefore = await partRequests(service, since);
    const pausedAt = await progressOf(service, key);
    assert.ok(sentBefore >= 1 && pausedAt > 0 && pausedAt < 1, `${sentBefore} parts, ${pausedAt}`);
    // Focus moved to Resume; the upload stays still while paused.
    assert.equal(await page.evaluate(() => document.activeElement.dataset.action), "resume");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await progressOf(service, key), pausedAt);

    await setFaults({});
    const mid = await lastRequest();
    await page.keyboard.press("Enter");
    await waitState(service, key, "done");
    const sentAfter = await partRequests(service, mid);
    const parts = Math.ceil(files["video.bin"].bytes.length / (4 * MiB));
    assert.ok(sentAfter < parts && sentBefore + sentAfter <= parts + 3, `${sentBefore} then ${sentAfter} of ${parts}`);
    // It says how far the checkpoint had come: as far as the upload was when paused.
    const resumedAt = (await page.$eval(`${item(service, key)} .status`, (e) => e.textContent)).match(/resumed at (\d+)%/);
    assert.ok(resumedAt, "the status says it resumed");
    assert.equal(Number(resumedAt[1]), Math.floor(pausedAt * 100));
    await checkResult(service, key, files["video.bin"]);
  });

  it("resumes after a reload when the same file is picked again", async () => {
    const service = "wcs";
    const key = "demo/backup.bin";
    // Every block waits 3 s: time to reload after the first ones are confirmed.
    await setFaults({ stallRate: 1, stallMs: 3000, services: [service], pathContains: "/mkblk" });
    await chooseService(service);
    const since = await lastRequest();
    await page.setInputFiles("#picker", files["backup.bin"].path);
    await waitConfirmed(service, key, 0.01);
    const sentBefore = await partRequests(service, since);
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    // The page lists what was interrupted and how far it got.
    const listed = await page.$eval("#resumable", (e) => (e.hidden ? "" : e.innerText));
    assert.match(listed, /backup\.bin/);
    assert.match(listed, /\d+% of 22\.0 MiB to WCS/);
    assert.equal(await page.$eval("input[name=service]:checked", (e) => e.value), service, "the choice survives");

    await setFaults({});
    const mid = await lastRequest();
    await page.setInputFiles("#picker", files["backup.bin"].path);
    await waitState(service, key, "done");
    const sentAfter = await partRequests(service, mid);
    assert.ok(sentBefore >= 1 && sentAfter < 6, `${sentBefore} blocks before the reload, ${sentAfter} after`);
    assert.match(await page.$eval(`${item(service, key)} .status`, (e) => e.textContent), /resumed at \d+%/);
    assert.equal(await page.$eval("#resumable", (e) => e.hidden), true);
    await checkResult(service, key, files["backup.bin"]);
  });

  it("cancels a paused upload, and discards one a reload interrupted, aborting both on the service", async () => {
    const service = "ufile";
    const deletes = async (since) => {
      const { requests } = await (await fetch(`${emulator.demo}/admin/requests?since=${since}`)).json();
      return requests.filter((r) => r.service === service && r.method === "DELETE" && r.status === 200).length;
    };
    makeFile("paused.bin", 22 * MiB + 9, 5);
    makeFile("reloaded.bin", 22 * MiB + 11, 6);
    await chooseService(service);

    // Paused, then cancelled: nothing is sent again; the saved upload is aborted.
    await setFaults({ stallRate: 1, stallMs: 15_000, services: [service], pathContains: "partNumber=2" });
    await page.setInputFiles("#picker", files["paused.bin"].path);
    await waitConfirmed(service, "demo/paused.bin", 0.05);
    await page.click(`${item(service, "demo/paused.bin")} [data-action=pause]`);
    await waitState(service, "demo/paused.bin", "paused");
    await setFaults({});
    let since = await lastRequest();
    await page.click(`${item(service, "demo/paused.bin")} [data-action=cancel]`);
    await waitState(service, "demo/paused.bin", "cancelled");
    assert.equal(await deletes(since), 1, "the paused upload was aborted on the service");
    assert.equal(await partRequests(service, since), 0, "cancelling sent no part");

    // Interrupted by a reload, then discarded from the list of interrupted uploads.
    await setFaults({ stallRate: 1, stallMs: 3000, services: [service], pathContains: "partNumber" });
    await page.setInputFiles("#picker", files["reloaded.bin"].path);
    await waitConfirmed(service, "demo/reloaded.bin", 0.01);
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    await setFaults({});
    since = await lastRequest();
    await page.click(`#resumable-list li[data-pending="${service}|public|demo/reloaded.bin"] button`);
    await page.waitForSelector("#resumable", { state: "hidden" });
    assert.equal(await deletes(since), 1, "the interrupted upload was aborted on the service");
    // The same file again starts from its first part.
    const mid = await lastRequest();
    await page.setInputFiles("#picker", files["reloaded.bin"].path);
    await waitState(service, "demo/reloaded.bin", "done");
    const parts = Math.ceil(files["reloaded.bin"].bytes.length / (4 * MiB));
    assert.equal(await partRequests(service, mid), parts, "nothing was resumed");
    assert.doesNotMatch(await page.$eval(`${item(service, "demo/reloaded.bin")} .status`, (e) => e.textContent), /resumed/);
    await checkResult(service, "demo/reloaded.bin", files["reloaded.bin"]);
  });

  it("shows another tab's running upload as such, not as one to discard, and follows it", async () => {
    const service = "wantu";
    const key = "demo/elsewhere.bin";
    const listed = `#resumable-list li[data-pending="${service}|public|${key}"]`;
    makeFile("elsewhere.bin", 22 * MiB + 13, 7);
    await chooseService(service);
    await setFaults({ stallRate: 1, stallMs: 3000, services: [service], pathContains: "blockUpload" });
    await page.setInputFiles("#picker", files["elsewhere.bin"].path);
    await waitConfirmed(service, key, 0.01);

    // A second tab of the same origin: the upload is in the saved list, marked as running there.
    const other = await page.context().newPage();
    watch(other, "second tab");
    try {
      await other.goto(`${emulator.demo}/`);
      await other.waitForSelector("body[data-ready=true]");
      await other.waitForSelector(`${listed}[data-running=true]`);
      assert.match(await other.$eval(listed, (e) => e.innerText), /uploading in another tab/);
      assert.equal(await other.$eval(`${listed} button`, (b) => b.disabled), true, "no discard while it runs");
      // Cancelled in the first tab: it leaves the second tab's list.
      await setFaults({});
      await page.click(`${item(service, key)} [data-action=cancel]`);
      await waitState(service, key, "cancelled");
      await other.waitForSelector(listed, { state: "detached" });
    } finally {
      await setFaults({});
      await other.close();
    }
  });

  it("explains a refusing server, a dropping network and expired tokens", async () => {
    await page.click("#faults-panel summary");
    const cases = [
      { preset: "down", service: "wcs", title: /WCS refused the upload/, detail: /HTTP 503/ },
      { preset: "network", service: "ufile", title: /Network error/, detail: /connection to UFile failed/ },
      { preset: "expired", service: "wantu", title: /Upload token expired/, detail: /expired/ },
      // Every part arrives with a byte changed: Wantu refuses its MD5, and after three tries
      // the upload says so (a 9 MiB file: two parts, each sent three times).
      { preset: "damaged", service: "wantu", name: "damaged.bin", title: /did not arrive intact/, detail: /MD5|digest/i },
    ];
    for (const c of cases) {
      await page.click(`[data-preset=${c.preset}]`);
      await page.waitForFunction(() => /Now:/.test(document.querySelector("#faults-state").textContent));
      await chooseService(c.service);
      const name = c.name ?? `small-${c.service}.txt`;
      const key = `demo/${name}`;
      await page.setInputFiles("#picker", files[name].path);
      await waitState(c.service, key, "failed");
      const alert = await page.$eval(`${item(c.service, key)} [role=alert]`, (e) => ({ hidden: e.hidden, text: e.innerText }));
      assert.equal(alert.hidden, false);
      assert.match(alert.text, c.title);
      assert.match(alert.text, c.detail);
    }
    assert.equal(await page.$eval("#faults-summary", (e) => e.textContent), "on");
    await page.screenshot({ path: path.join(OUTPUT, "demo-errors.png"), fullPage: true });

    // All off, then Retry: the same uploads go through.
    await page.click("[data-preset=off]");
    await page.waitForFunction(() => /no faults/.test(document.querySelector("#faults-state").textContent));
    for (const c of cases) {
      const name = c.name ?? `small-${c.service}.txt`;
      await page.click(`${item(c.service, `demo/${name}`)} [data-action=resume]`);
      await waitState(c.service, `demo/${name}`, "done");
      await checkResult(c.service, `demo/${name}`, files[name]);
    }
    await page.click("#faults-panel summary");
  });

  it("cancels an upload and aborts it on the service", async () => {
    const service = "ufile";
    const key = "demo/video.bin";
    await setFaults({ stallRate: 1, stallMs: 15_000, services: [service], pathContains: "partNumber=3" });
    await chooseService(service);
    const since = await lastRequest();
    await page.setInputFiles("#picker", files["video.bin"].path);
    const fresh = `${item(service, key)}:not([data-state=done])`;
    await waitConfirmed(service, key, 0.1);
    await page.click(`${fresh} [data-action=cancel]`);
    await page.waitForSelector(`${item(service, key)}[data-state=cancelled]`);
    await setFaults({});
    const { requests } = await (await fetch(`${emulator.demo}/admin/requests?since=${since}`)).json();
    assert.ok(requests.some((r) => r.service === service && r.method === "DELETE"), "the multipart upload was aborted");
    // The earlier, finished upload of the same key is still there.
    assert.ok((await download(service, key)).equals(files["video.bin"].bytes));
  });

  it("looks tidy after the uploads", async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(OUTPUT, "demo-after.png"), fullPage: true });
    if (process.env.UPDATE_DOCS_SCREENSHOT) {
      copyFileSync(path.join(OUTPUT, "demo-during.png"), path.join(ROOT, "docs", "demo.png"));
    }
  });
});
