// Time for sluice ui's pages to be complete in headless Chromium (Debian's, through npm's
// playwright-core): the runs table with its rows; a run page with the charts on its first
// screen drawn (the rest are drawn as they are scrolled into view).
// Each round opens a fresh browser context (nothing cached), and lets its new window settle
// before navigating: a new window of this Chromium starts its own browser UI (the omnibox's
// WebUI renderer), which takes about half a second of the two cores' time. A user's browser
// has it running already; left in, it measured the browser's start instead of the page
// (run pages at 450-600 ms, against 250 once settled). Prints JSON.
//
//   node bench/ui_paint.js URL RUN_ID ROUNDS
"use strict";
const path = require("path");
const { chromium } = require(path.join(__dirname, "../host/ui/web/node_modules/playwright-core"));

async function main() {
  const [url, run, rounds] = [process.argv[2], process.argv[3], Number(process.argv[4] || 5)];
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
  });
  const out = { runs_page_ms: [], run_page_ms: [], charts: 0, rows: 0 };
  for (let r = 0; r < rounds; ++r) {
    for (const [key, target] of [["runs_page_ms", "/"], ["run_page_ms", "/runs/" + run]]) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      await page.goto("about:blank");
      await page.waitForTimeout(1500);
      await page.goto(url + target);
      await page.waitForFunction(() => window.sluiceReadyAt !== undefined, null, { timeout: 60000 });
      out[key].push(await page.evaluate(() => window.sluiceReadyAt));
      if (key === "runs_page_ms") out.rows = await page.locator("#runs tr[data-run]").count();
      else {
        out.charts = await page.locator("#charts canvas").count();
        out.series = await page.locator("#charts .chart").count();
      }
      await context.close();
    }
  }
  await browser.close();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
