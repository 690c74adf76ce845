#!/usr/bin/env node
// The published command line runs the compiled CLI (`npm run build` first).
require('../dist/src/cli/main.js');
