// sluice ui and MLflow's UI side by side in headless Chromium (Debian's, through npm's
// playwright-core): navigation start to the runs table showing the newest run, and to one
// run's page with its train.loss chart drawn. Each page is opened in a fresh browser
// context, its window settled (ui_browser.js): nothing cached, "first visit"; and then
// reloaded in it ("again", with the browser's cache). The moment is read the same way for both: a requestAnimationFrame loop, installed
// before the page's own scripts, notes when the page first shows the thing.
//
//   node bench/ui_mlflow.js CONFIG_JSON ROUNDS
//   CONFIG_JSON: {"sluice": {"base", "run"}, "mlflow": {"base", "experiment", "run", "newest"}}
"use strict";
const { launch, freshPage, run } = require("./ui_browser");

// Each tool's two pages and what "shown" means there.
function pages(config) {
  const s = config.sluice, m = config.mlflow;
  return [
    ["sluice", "runs", `${s.base}/`, `!!document.querySelector("#runs tr[data-run]")`],
    ["sluice", "loss", `${s.base}/runs/${s.run}`, `!!document.querySelector('#charts .chart[data-key="train.loss"] canvas')`],
    ["mlflow", "runs", `${m.base}/#/experiments/${m.experiment}`, `Array.from(document.querySelectorAll(".ag-row a")).some((a) => a.textContent.trim() === ${JSON.stringify(m.newest)})`],
    // The card titled train.loss on the run's Model metrics tab, once its Plotly line has
    // its points.
    ["mlflow", "loss", `${m.base}/#/experiments/${m.experiment}/runs/${m.run}/model-metrics`,
     `Array.from(document.querySelectorAll(".js-plotly-plot")).some((plot) => {
        let card = plot;
        for (let i = 0; i < 8 && card; ++i, card = card.parentElement) {
          if (Array.from(card.querySelectorAll("span, div, h2, h3")).some((e) => e.childElementCount === 0 && e.textContent.trim() === "train.loss")) break;
        }
        const line = plot.querySelector(".scatterlayer path.js-line");
        return !!card && !!line && (line.getAttribute("d") || "").length > 100;
      })`],
  ];
}

async function main() {
  const config = JSON.parse(process.argv[2]);
  const rounds = Number(process.argv[3] || 5);
  const browser = await launch();
  const out = {};
  for (let r = 0; r < rounds; ++r) {
    for (const [tool, name, url, shown] of pages(config)) {
      const { context, page } = await freshPage(
        browser,
        `(() => {
          const look = () => {
            if (window.shownAt === undefined && document.body && (${shown})) window.shownAt = performance.now();
            if (window.shownAt === undefined) requestAnimationFrame(look);
          };
          requestAnimationFrame(look);
        })();`,
      );
      for (const visit of ["first", "again"]) {
        if (visit === "first") await page.goto(url);
        else await page.reload();
        await page.waitForFunction(() => window.shownAt !== undefined, null, { timeout: 120000, polling: 50 });
        const key = `${tool} ${name} ${visit}`;
        (out[key] = out[key] || []).push(await page.evaluate(() => window.shownAt));
      }
      await context.close();
    }
  }
  await browser.close();
  console.log(JSON.stringify(out));
}

run(main);
