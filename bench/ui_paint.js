// Time for sluice ui's pages to be complete in headless Chromium (Debian's, through npm's
// playwright-core): the runs table with its rows; a run page with the charts on its first
// screen drawn (the rest are drawn as they are scrolled into view).
// Each page is opened in a fresh browser context, its window settled (ui_browser.js).
// Prints JSON.
//
//   node bench/ui_paint.js URL RUN_ID ROUNDS
"use strict";
const { launch, freshPage, run } = require("./ui_browser");

async function main() {
  const [url, run, rounds] = [process.argv[2], process.argv[3], Number(process.argv[4] || 5)];
  const browser = await launch();
  const out = { runs_page_ms: [], run_page_ms: [], charts: 0, rows: 0 };
  for (let r = 0; r < rounds; ++r) {
    for (const [key, target] of [["runs_page_ms", "/"], ["run_page_ms", "/runs/" + run]]) {
      const { context, page } = await freshPage(browser);
      await page.goto(url + target);
      await page.waitForFunction(() => window.sluiceReadyAt !== undefined, null, { timeout: 60000 });
      out[key].push(await page.evaluate(() => window.sluiceReadyAt));
      if (key === "runs_page_ms") out.rows = await page.locator("#runs tr[data-run]").count();
      else {
        // The charts of the first screen (drawn by then), of all the run's.
        out.charts = await page.evaluate(() => Array.from(document.querySelectorAll("#charts .chart")).filter((b) => b.getBoundingClientRect().top < innerHeight && b.querySelector("canvas")).length);
        out.series = await page.locator("#charts .chart").count();
      }
      await context.close();
    }
  }
  await browser.close();
  console.log(JSON.stringify(out));
}

run(main);
