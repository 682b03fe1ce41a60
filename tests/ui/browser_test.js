// sluice ui in a real browser: Debian's Chromium, headless, driven by playwright-core.
// Run by tests/integration/ui_test.cpp against a `sluice ui` it started on a store it
// made; prints what it checked and exits 1 with the reason on the first failure.
//
//   node browser_test.js   (env: SLUICE_UI_URL, SLUICE_UI_CASE (JSON), SLUICE_UI_SHOTS)
"use strict";

const path = require("path");
const fs = require("fs");
const { chromium } = require(path.join(__dirname, "../../host/ui/web/node_modules/playwright-core"));

const url = process.env.SLUICE_UI_URL;
const expected = JSON.parse(process.env.SLUICE_UI_CASE);
const shots = process.env.SLUICE_UI_SHOTS;
const timeout = 20000;

function check(condition, message) {
  if (!condition) throw new Error(message);
  console.log("ok: " + message);
}

async function ready(page) {
  await page.waitForFunction(() => document.body.dataset.ready !== undefined, null, { timeout });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, name + ".png"), fullPage: true });
}

async function cells(page, column) {
  // The text of one column of the runs table, by its header.
  return page.evaluate((title) => {
    const heads = Array.from(document.querySelectorAll("#runs th")).map((th) => th.textContent.replace(/ [▲▼]$/, ""));
    const index = heads.indexOf(title);
    if (index < 0) return null;
    return Array.from(document.querySelectorAll("#runs tr[data-run]")).map((tr) => tr.children[index].textContent);
  }, column);
}

async function cellOf(page, run, column) {
  // One run's cell of one column of the runs table, by the column's heading.
  return page.evaluate(([id, title]) => {
    const heads = Array.from(document.querySelectorAll("#runs th")).map((th) => th.textContent.replace(/ [▲▼]$/, ""));
    const row = document.querySelector(`#runs tr[data-run="${id}"]`);
    return row && heads.includes(title) ? row.children[heads.indexOf(title)].textContent : null;
  }, [run, column]);
}

async function main() {
  fs.rmSync(shots, { recursive: true, force: true });
  fs.mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.SLUICE_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  try {
    // The runs table: every run, the running one among them.
    await page.goto(url + "/");
    await ready(page);
    await page.waitForSelector("#runs tr[data-run]", { timeout });
    check((await page.locator("#runs tr[data-run]").count()) === expected.runs, `the runs page lists all ${expected.runs} runs`);
    check((await page.textContent("#count")).startsWith(`${expected.runs} of ${expected.runs}`), "it says how many runs there are");
    await shot(page, "runs");

    // A running run updates live: it finishes while the page is open.
    const running = page.locator(`#runs tr[data-run="${expected.running}"] td.status-running`);
    check((await running.count()) === 1, "the running run shows as running");
    fs.rmSync(expected.hang_flag);
    await page.waitForSelector(`#runs tr[data-run="${expected.running}"] td.status-succeeded`, { timeout });
    check(true, "it shows succeeded once it finished, without a reload");

    // Choosing a column; sorting by it, both ways; the layout persists.
    await page.click("details summary");
    await page.check('input[data-kind="metrics"][data-key="f.value"]');
    await page.waitForSelector('#runs th[data-order="metrics.f.value"]', { timeout });
    await page.click('#runs th[data-order="metrics.f.value"]');
    await page.waitForSelector('#runs th[data-order="metrics.f.value"]:has-text("▼")', { timeout });
    let values = (await cells(page, "f.value")).filter((v) => v !== "").map(Number);
    check(values.length >= 3 && values.every((v, i) => i === 0 || values[i - 1] >= v), `sorted by f.value, highest first: ${values}`);
    await page.click('#runs th[data-order="metrics.f.value"]');
    await page.waitForSelector('#runs th[data-order="metrics.f.value"]:has-text("▲")', { timeout });
    values = (await cells(page, "f.value")).filter((v) => v !== "").map(Number);
    check(values.every((v, i) => i === 0 || values[i - 1] <= v), `then lowest first: ${values}`);
    await page.reload();
    await ready(page);
    await page.waitForSelector('#runs th[data-order="metrics.f.value"]', { timeout });
    check(true, "the chosen column is still there after a reload");
    await shot(page, "runs-sorted");

    // A series' lowest and highest values and its value at a step as columns, sorted by on
    // the server; columns moved by dragging their headings stay where they were put.
    await page.click("details summary");
    await page.check('input[data-field="min(metrics.f.curve)"]');
    await page.waitForSelector('#runs th[data-order="min(metrics.f.curve)"]', { timeout });
    await page.check('input[data-field="max(metrics.f.curve)"]');
    await page.waitForSelector('#runs th[data-order="max(metrics.f.curve)"]', { timeout });
    await page.fill('input[data-step-for="f.curve"]', "4");
    await page.press('input[data-step-for="f.curve"]', "Enter");
    await page.waitForSelector('#runs th[data-order="metrics.f.curve@4"]', { timeout });
    const long = expected.long_curve;
    for (const [title, want] of [["f.curve (min)", long.min], ["f.curve (max)", long.max], ["f.curve @ step 4", long.at_4]]) {
      const got = Number(await cellOf(page, expected.long_run, title));
      check(Math.abs(got - want) <= 1e-4 * Math.max(1, Math.abs(want)), `${title} of the 5000-step run is ${want} (shows ${got})`);
    }
    await page.click('#runs th[data-order="min(metrics.f.curve)"]');
    await page.waitForSelector('#runs th[data-order="min(metrics.f.curve)"]:has-text("▼")', { timeout });
    values = (await cells(page, "f.curve (min)")).filter((v) => v !== "").map(Number);
    check(values.length >= 3 && values.every((v, i) => i === 0 || values[i - 1] >= v), `sorted by the curve's lowest value, highest first: ${values}`);
    await page.dragAndDrop('#runs th[data-order="metrics.f.curve@4"]', '#runs th[data-order="metrics.f.value"]');
    const order = async () => page.evaluate(() => Array.from(document.querySelectorAll("#runs th[draggable]")).map((th) => th.dataset.order));
    let moved = await order();
    check(moved.indexOf("metrics.f.curve@4") === moved.indexOf("metrics.f.value") - 1, `a dragged heading moves its column: ${moved}`);
    await page.reload();
    await ready(page);
    await page.waitForSelector('#runs th[data-order="metrics.f.curve@4"]', { timeout });
    check(JSON.stringify(await order()) === JSON.stringify(moved), "the columns and their order are the same after a reload");
    await shot(page, "runs-stat-columns");

    // Filtering with the --where language; a bad expression shows the caret.
    await page.fill("#where", "params.f.x > 1.5");
    await page.press("#where", "Enter");
    await page.waitForFunction((n) => document.querySelectorAll("#runs tr[data-run]").length === n, expected.x_above, { timeout });
    check(true, `params.f.x > 1.5 leaves ${expected.x_above} runs`);
    const logged = errors.length;
    await page.fill("#where", "metrics.f.value >");
    await page.press("#where", "Enter");
    await page.waitForFunction(() => document.querySelector("#where-error").textContent.includes("^"), null, { timeout });
    const caret = await page.textContent("#where-error");
    // Chromium logs the API's 400 for the bad filter as a failed resource: that one is expected.
    const refused = errors.slice(logged).filter((e) => e.includes("status of 400"));
    check(refused.length === 1, "the API refused the filter with a 400");
    errors.splice(logged, refused.length);
    check(caret.includes("expected a value"), "a bad filter says what is wrong and where: " + JSON.stringify(caret));
    await shot(page, "runs-bad-filter");
    await page.fill("#where", "");
    await page.press("#where", "Enter");
    await page.waitForFunction((n) => document.querySelectorAll("#runs tr[data-run]").length === n, expected.runs, { timeout });

    // Grouped by pipeline: a heading row per pipeline, each run under its own.
    await page.selectOption("#group", "pipeline");
    await page.waitForSelector("#runs tr.group", { timeout });
    const groups = await page.$$eval("#runs tr", (rows) => {
      const out = [];
      for (const tr of rows) {
        if (tr.classList.contains("group")) out.push({ name: tr.textContent, runs: [] });
        else if (tr.dataset.run && out.length) out[out.length - 1].runs.push(tr.children[2].textContent);
      }
      return out;
    });
    check(groups.length === expected.pipelines, `one group per pipeline (${groups.map((g) => g.name)})`);
    check(groups.every((g) => g.runs.length > 0 && g.runs.every((p) => p === g.name)), "every run is under its pipeline");
    await page.selectOption("#group", "");
    await page.waitForFunction(() => document.querySelectorAll("#runs tr.group").length === 0, null, { timeout });

    // Comparing two runs: their parameters side by side, differences marked; curves overlaid.
    for (const id of expected.compare) await page.check(`#runs tr[data-run="${id}"] input[type=checkbox]`);
    await page.click("#compare");
    await ready(page);
    await page.waitForSelector('#charts .chart[data-key="f.curve"] canvas', { timeout });
    const differing = await page.$$eval("#compare-params tr.diff td:first-child", (tds) => tds.map((td) => td.textContent));
    check(differing.includes("f.x") && !differing.includes("f.y"), `differing parameters are highlighted: ${differing}`);
    const legend = await page.$$eval('#charts .chart[data-key="f.curve"] .u-legend .u-series', (s) => s.length);
    check(legend === 3, "f.curve is drawn for both runs on one chart");
    await shot(page, "compare");

    // A run page: charts (downsampled on the server), metrics, stages, artifacts.
    await page.goto(url + "/runs/" + expected.long_run);
    await ready(page);
    await page.waitForSelector('#charts .chart[data-key="f.curve"] canvas', { timeout });
    const title = await page.textContent('#charts .chart[data-key="f.curve"] .u-title');
    check(title.includes("2000 of 5000 points"), "a 5000-point series is drawn from 2000: " + title);
    check((await page.locator("#metrics tr").count()) > 2, "its metrics are listed with latest, min and max");
    await page.check("#log");
    await page.waitForSelector('#charts .chart[data-key="f.curve"] canvas', { timeout });
    await shot(page, "run-log-scale");

    await page.goto(url + "/runs/" + expected.trained_run);
    await ready(page);
    await page.waitForSelector("#charts .chart canvas", { timeout });
    // The images below the first screen load as they are scrolled to.
    for (const image of await page.locator("img.artifact").all()) await image.scrollIntoViewIfNeeded();
    await page.waitForFunction(() => {
      const images = Array.from(document.querySelectorAll("img.artifact"));
      return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0);
    }, null, { timeout });
    const images = await page.locator("img.artifact").count();
    check(images >= 3, `the trained run's SVG artifacts show inline (${images})`);
    check((await page.locator("#timeline .timeline").count()) === expected.trained_stages, "its stages are on a timeline");
    check((await page.locator("pre.csv").count()) >= 1, "CSV artifacts are previewed");
    await shot(page, "run-trained");

    // A study: best so far, pruned trials, parallel coordinates, importance, the trials.
    await page.goto(url + "/studies/" + expected.study);
    await ready(page);
    await page.waitForSelector("#best-so-far canvas", { timeout });
    const lines = await page.locator("#parallel polyline").count();
    check(lines === expected.study_values, `parallel coordinates draw one line per trial with a value (${lines})`);
    check((await page.locator("#trials tr").count()) === expected.study_trials + 1, "every trial is in the table");
    const importance = await page.locator("#importance tr").count();
    check(importance === expected.study_importance, `parameter importance is shown for ${importance} parameters`);
    await page.waitForSelector("#pruned canvas", { timeout });
    const curves = await page.evaluate(() => document.querySelector("#pruned .u-title").textContent);
    check(curves.includes("pruned trials (orange) stop"), "each trial's pruning metric is drawn, pruned ones stopping early");
    const prunedRows = await page.locator("#trials td.status-pruned").count();
    check(prunedRows === expected.study_pruned, "pruned trials are marked in the table");
    await shot(page, "study");

    await page.goto(url + "/models");
    await ready(page);
    await page.waitForSelector("#models tr td", { timeout });
    check((await page.textContent("#models")).includes("credit-risk"), "the registry lists credit-risk");
    await shot(page, "models");

    check(errors.length === 0, "no console errors" + (errors.length ? ": " + errors.join(" | ") : ""));
  } catch (e) {
    await shot(page, "failure").catch(() => {});
    console.error("FAILED: " + e.message + (errors.length ? "\nconsole errors: " + errors.join(" | ") : ""));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

main();
