// Writes libs/contracts/schemas/<stem>.v1.json from the zod event data schemas.
// Run: npx tsx libs/contracts/scripts/generate-schemas.ts   (a unit test fails when the files are stale)
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSchemas } from '../src/json-schemas';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
mkdirSync(dir, { recursive: true });
for (const [file, text] of Object.entries(renderSchemas())) {
  writeFileSync(join(dir, file), text);
  console.log(`wrote schemas/${file}`);
}
