#!/usr/bin/env node
// sere: fine-tuning, evaluation, export and run reports (the commands: src/cli/commands.ts).
import { runSere } from "./commands.js";

runSere(process.argv.slice(2));
