// Headless Chromium for the UI benchmarks (Debian's, through npm's playwright-core), and a
// fresh page to time a navigation in.
"use strict";
const path = require("path");
const { chromium } = require(path.join(__dirname, "../host/ui/web/node_modules/playwright-core"));

function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
  });
}

// A page in a fresh browser context (nothing cached), on about:blank once the new window
// has settled: a new window of this Chromium starts its own browser UI (the omnibox's WebUI
// renderer), which takes about half a second of the two cores' time. A user's browser has
// it running already; left in, it measured the browser's start instead of the page (run
// pages at 450-600 ms, against 250 once settled). `init`: a script to run in every page
// before its own.
async function freshPage(browser, init) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  await page.goto("about:blank");
  await page.waitForTimeout(1500);
  return { context, page };
}

// Runs main(), printing what failed.
function run(main) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { launch, freshPage, run };
