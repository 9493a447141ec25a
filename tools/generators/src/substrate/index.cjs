// Nx require()s generator factories and Node 20 cannot strip types, so tsx compiles the
// TypeScript source on the way in (no extra transpiler dependency).
const { require: tsxRequire } = require('tsx/cjs/api');

module.exports = tsxRequire('./generator.ts', __filename);
