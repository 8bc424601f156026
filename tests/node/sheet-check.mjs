// The browser half of tests/test_sheet_browser.py: Debian's Chromium, driven by
// playwright-core (which downloads no browser), checks one HTML file.
//
//   node sheet-check.mjs axe PAGE.html...           -> JSON: axe-core's WCAG 2.2 AA violations
//   node sheet-check.mjs pdf PAGE.html OUT.pdf A4...  -> prints each page on A4 (or Letter)
//
// One browser start serves every file named (a start takes seconds).
//
// CHROMIUM names the browser (default /usr/bin/chromium).  The flags keep a headless
// Chromium off the network, as a closed machine needs.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const [command, ...files] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
async function axeViolations(tab) {
  await tab.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  const result = await tab.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] },
      resultTypes: ["violations"],
    }),
  );
  return {
    version: result.testEngine.version,
    violations: result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(" ")),
    })),
  };
}

try {
  const tab = await browser.newPage();
  if (command === "axe") {
    const results = {};
    for (const page of files) {
      await tab.goto(pathToFileURL(page).href);
      results[page] = await axeViolations(tab);
    }
    process.stdout.write(JSON.stringify(results));
  } else if (command === "pdf") {
    await tab.emulateMedia({ media: "print" });
    for (let i = 0; i < files.length; i += 3) {
      const [page, out, format] = files.slice(i, i + 3);
      await tab.goto(pathToFileURL(page).href);
      await tab.pdf({ path: out, format, printBackground: true });
    }
  } else {
    throw new Error(`unknown command ${command}`);
  }
} finally {
  await browser.close();
}
