// See index.cjs: tsx compiles the TypeScript source on the way in.
const { require: tsxRequire } = require('tsx/cjs/api');

module.exports = tsxRequire('./adapter-list.ts', __filename);
