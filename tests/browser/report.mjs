// tests/browser/report.mjs PAGE_URL OUT_DIR: opens PAGE_URL in Debian's chromium (playwright-core,
// no browser downloaded), waits for the page's script to set window.report (what it could do with
// crest from inside a real browser: fetch across origins, WebSockets...) and prints it as one JSON
// line. Any request off the loopback, or a script error in the page, fails the run.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.CREST_TEST_TOOLS ?? '.', 'node_modules', '_'));
const { chromium } = require('playwright-core');

const [pageUrl, outDir] = process.argv.slice(2);

async function main() {
  if (!pageUrl || !outDir) throw new Error('usage: report.mjs PAGE_URL OUT_DIR');
  const profile = fs.mkdtempSync(path.join(outDir, 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems = [];
  try {
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('http://127.0.0.1:')) return route.continue();
      problems.push(`request off the loopback blocked: ${url}`);
      return route.abort();
    });
    const page = context.pages()[0] ?? await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await page.goto(pageUrl);
    await page.waitForFunction(() => window.report !== undefined, null, { timeout: 30000 });
    const report = await page.evaluate(() => window.report);
    if (problems.length) throw new Error(problems.join('\n'));
    console.log(JSON.stringify(report));
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});
