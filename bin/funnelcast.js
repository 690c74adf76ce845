#!/usr/bin/env node
// The installed `funnelcast` command runs the compiled CLI (`npm run build` first).
require('../dist/src/cli/main.js').runCli(process.argv.slice(2));
