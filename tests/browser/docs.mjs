// tests/browser/docs.mjs BASE_URL OUT_DIR [API_KEY]: uses crest's /docs and /redoc as a person
// would, in Debian's chromium (/usr/bin/chromium) driven by playwright-core (no browser is
// downloaded). On /docs (Swagger UI) it checks the items operations are listed, then uses "Try it
// out" on POST /items (filling the body) and on GET /items/{item_id} (filling item_id), executes
// both and reads the 201 and 200 answers in the page. With API_KEY (crest --api-key-file), the
// first POST must answer 401; it then opens "Authorize", enters the key in the HTTPBearer form,
// and the same POST, executed again, must answer 201 (and GET stays open). On /redoc it checks ReDoc rendered the operations
// and the Item schema. Screenshots go to OUT_DIR (docs.png, docs-overview.png, redoc.png). Any
// request the pages make off the loopback is blocked and fails the run, as does any asset crest
// answers with an error, or a script error in the page. Prints one JSON line with what it saw.
// playwright-core comes from $CREST_TEST_TOOLS/node_modules (tools/npm-ci.sh installs it there).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.CREST_TEST_TOOLS ?? '.', 'node_modules', '_'));
const { chromium } = require('playwright-core');

const [base, outDir, apiKey] = process.argv.slice(2);
const TIMEOUT_MS = 20000;
const ITEMS_OPERATIONS = [
  'create_an_item_items_post',
  'list_items_items_get',
  'read_an_item_items__item_id__get',
  'replace_an_item_items__item_id__put',
  'update_some_fields_of_an_item_items__item_id__patch',
  'delete_an_item_items__item_id__delete',
];

function check(cond, what) {
  if (!cond) throw new Error(what);
}

// Swagger UI's block of one operation, expanded, with "Try it out" pressed.
async function tryOperation(page, operationId) {
  const block = page.locator(`#operations-items-${operationId}`);
  await block.locator('.opblock-summary').first().click();
  await block.getByRole('button', { name: 'Try it out' }).click();
  return block;
}

// Presses Execute and returns the status and body Swagger UI shows for the live response. A
// second Execute updates the same row in place, and not all of it at once: wait until the row
// differs from what it showed before, then until two readings 100 ms apart agree.
async function execute(block) {
  const row = block.locator('.live-responses-table tbody .response').first();
  const before = (await row.count()) ? await row.innerText() : null;
  await block.getByRole('button', { name: 'Execute' }).click();
  await row.waitFor({ timeout: TIMEOUT_MS });
  const deadline = Date.now() + TIMEOUT_MS;
  const read = async () => ({
    status: (await row.locator('.response-col_status').innerText()).trim(),
    body: await row.locator('.response-col_description pre').first().innerText(),
  });
  let last = await read();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = await read();
    const changed = before === null || (await row.innerText()) !== before;
    if (changed && now.status === last.status && now.body === last.body) break;
    check(Date.now() < deadline, 'the live response did not settle');
    last = now;
  }
  return { status: Number.parseInt(last.status, 10), body: last.body };
}

// Swagger UI's "Authorize" dialog: the key in the HTTPBearer form, applied, the dialog closed.
async function authorize(page, key) {
  await page.locator('.auth-wrapper button.authorize').click();
  const dialog = page.locator('.dialog-ux .modal-ux');
  await dialog.waitFor({ timeout: TIMEOUT_MS });
  check((await dialog.innerText()).includes('HTTPBearer'), 'Authorize lists HTTPBearer');
  await dialog.locator('input[aria-label="auth-bearer-value"]').fill(key);
  await dialog.getByRole('button', { name: 'Apply credentials' }).click();
  await dialog.locator('.btn-done').first().click();
  await dialog.waitFor({ state: 'detached', timeout: TIMEOUT_MS });
  check(await page.locator('.auth-wrapper button.authorize.locked').count() === 1,
    'Authorize shows the lock closed');
}

async function swaggerUi(page, seen) {
  await page.goto(`${base}/docs`, { waitUntil: 'load' });
  await page.locator('.opblock-tag-section').first().waitFor({ timeout: TIMEOUT_MS });
  const title = await page.locator('.info .title').first().innerText();
  check(title.includes('crest items API'), `Swagger UI title: ${title}`);
  for (const id of ITEMS_OPERATIONS) {
    check(await page.locator(`#operations-items-${id}`).count() === 1, `operation ${id} listed`);
  }
  seen.operations = await page.locator('.opblock-summary-path').evaluateAll(
    (els) => els.map((e) => e.getAttribute('data-path')));
  await page.screenshot({ path: path.join(outDir, 'docs-overview.png') });

  const post = await tryOperation(page, 'create_an_item_items_post');
  const item = { name: 'Browser item', description: 'made in Swagger UI', price: 9.5, tax: 0.5,
    tags: ['docs'] };
  await post.locator('textarea.body-param__text').fill(JSON.stringify(item, null, 2));
  if (apiKey) {
    const refused = await execute(post);
    check(refused.status === 401, `POST /items without a key answered ${refused.status}`);
    seen.unauthorized = { status: refused.status, body: JSON.parse(refused.body) };
    await authorize(page, apiKey);
  }
  const created = await execute(post);
  check(created.status === 201, `POST /items answered ${created.status}: ${created.body}`);
  const id = JSON.parse(created.body).id;
  check(Number.isInteger(id), `POST /items body: ${created.body}`);
  seen.post = { status: created.status, id };
  await post.screenshot({ path: path.join(outDir, 'docs-post.png') });

  const get = await tryOperation(page, 'read_an_item_items__item_id__get');
  await get.locator('input[placeholder="item_id"]').fill(String(id));
  const read = await execute(get);
  check(read.status === 200, `GET /items/${id} answered ${read.status}: ${read.body}`);
  check(JSON.parse(read.body).name === item.name, `GET /items/${id} body: ${read.body}`);
  seen.get = { status: read.status, name: JSON.parse(read.body).name };
  // docs.png (the README's): the items operations, POST /items tried and its 201 answer
  const top = await page.locator('.opblock-tag-section').last().boundingBox();
  const answer = await post.locator('.live-responses-table tbody .response pre').first()
    .boundingBox();
  const scrollY = await page.evaluate(() => window.scrollY);
  await page.screenshot({
    path: path.join(outDir, 'docs.png'),
    fullPage: true,
    clip: { x: 0, y: top.y + scrollY - 8, width: 1280, height: answer.y + answer.height - top.y + 24 },
  });
  await page.screenshot({ path: path.join(outDir, 'docs-full.png'), fullPage: true });
}

async function redoc(page, seen) {
  await page.goto(`${base}/redoc`, { waitUntil: 'load' });
  const heading = page.getByRole('heading', { name: 'Create an item' });
  await heading.waitFor({ timeout: TIMEOUT_MS });
  const text = (await page.locator('body').innerText()).toLowerCase(); // ReDoc upper-cases some
  for (const want of ['List items', 'Read an item', 'Request Body schema: application/json',
    'string (Name) [ 1 .. 100 ] characters', 'number (Price) > 0']) {
    check(text.includes(want.toLowerCase()), `ReDoc shows "${want}"`);
  }
  // The 201 answer of POST /items: ReDoc's response sample is an Item, id included.
  const section = page.locator('[data-section-id="tag/items/operation/create_an_item_items_post"]');
  await section.scrollIntoViewIfNeeded();
  const samples = await section.locator('.redoc-json').allInnerTexts(); // request, then 201
  const sample = samples.find((t) => t.includes('"id"')) ?? samples.join(' | ');
  check(sample.includes('"id"') && sample.includes('"tags"'), `ReDoc Item sample: ${sample}`);
  seen.redoc = { item_sample: sample.replace(/\s+/g, ' ').slice(0, 200) };
  await page.screenshot({ path: path.join(outDir, 'redoc.png') });
}

async function main() {
  check(base && outDir, 'usage: docs.mjs BASE_URL OUT_DIR');
  const problems = [];
  const seen = {};
  const profile = fs.mkdtempSync(path.join(outDir, 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  try {
    const origin = new URL(base).origin;
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) {
        return route.continue();
      }
      problems.push(`request off the loopback blocked: ${url}`);
      return route.abort();
    });
    const page = context.pages()[0] ?? await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      // what the pages' Content-Security-Policy refuses (ReDoc's CDN logo) is meant to be refused
      // (and the 401 the POST without a key is meant to get, which the page logs)
      const refusedOnPurpose = apiKey && msg.text().includes('status of 401');
      if (msg.type() === 'error' && !msg.text().includes('Content Security Policy') &&
        !refusedOnPurpose) {
        problems.push(`console error: ${msg.text()}`);
      }
    });
    page.on('response', (res) => {
      // the Try it out calls answer what they answer; everything else must load
      if (res.status() >= 400 && !res.url().includes('/items')) {
        problems.push(`${res.status()} for ${res.url()}`);
      }
    });
    await swaggerUi(page, seen);
    await redoc(page, seen);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  check(problems.length === 0, problems.join('; '));
  console.log(JSON.stringify(seen));
}

main().catch((err) => {
  console.error(String(err && (err.stack || err)));
  process.exit(1);
});
