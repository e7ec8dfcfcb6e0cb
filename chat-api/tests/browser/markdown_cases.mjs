// Render each Markdown case given on stdin (a JSON list of strings) with the UI's renderer; print the HTML list.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const { render } = require(process.argv[2]);
const cases = JSON.parse(readFileSync(0, "utf8"));
console.log(JSON.stringify(cases.map((text) => render(text))));
