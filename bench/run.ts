// `npm run bench [-- suite ...]`: runs the benchmark suites (all by default) and prints
// one JSON object, suite name -> measurements. Numbers are reported, never asserted.

import * as data from "./data.js";
import * as distributed from "./distributed.js";
import * as finetune from "./finetune.js";
import * as model from "./model.js";
import * as objective from "./objective.js";
import * as runtime from "./runtime.js";
import * as train from "./train.js";

const suites: Record<string, { run(): Promise<object> }> = {
  runtime,
  model,
  objective,
  data,
  train,
  finetune,
  distributed,
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in suites));
if (unknown.length > 0) {
  console.error(`unknown benchmark suite(s): ${unknown.join(", ")}; available: ${Object.keys(suites).join(", ")}`);
  process.exit(2);
}
const results: Record<string, object> = {};
for (const name of wanted.length > 0 ? wanted : Object.keys(suites)) {
  results[name] = await suites[name]!.run();
}
console.log(JSON.stringify(results, null, 2));
