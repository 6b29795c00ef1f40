// tests/browser/validate-openapi.mjs URL: fetches crest's OpenAPI document and validates it with
// @apidevtools/swagger-parser, which checks it against the official OpenAPI 3.1 JSON Schema and
// resolves every $ref: an implementation independent of crest's. Prints one JSON line,
// {"valid": true, "paths": {path: [methods]}, "operationIds": [...]}, or the error and exits 1.
// The package comes from $CREST_TEST_TOOLS/node_modules (tools/npm-ci.sh installs it there).
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.CREST_TEST_TOOLS ?? '.', 'node_modules', '_'));
const SwaggerParser = require('@apidevtools/swagger-parser');

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

async function main(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(10000) });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  const doc = await res.json();
  const api = await SwaggerParser.validate(structuredClone(doc));
  const paths = {};
  const operationIds = [];
  for (const [p, item] of Object.entries(api.paths ?? {})) {
    paths[p] = METHODS.filter((m) => item[m]);
    for (const m of paths[p]) operationIds.push(item[m].operationId);
  }
  console.log(JSON.stringify({ valid: true, openapi: api.openapi, paths, operationIds }));
}

main(process.argv[2]).catch((err) => {
  console.log(JSON.stringify({ valid: false, error: String(err && (err.stack || err)) }));
  process.exit(1);
});
