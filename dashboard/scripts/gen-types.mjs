// Generates src/api/generated/<service>.ts from each OpenAPI document in ../openapi/<service>.json.
// Not part of `npm run build`: ../scripts/dump_openapi.py writes the documents from each service's
// create_app() (`make openapi` runs both), and the generated files are committed so a build needs no Python.
//
//   node scripts/gen-types.mjs           # write the files
//   node scripts/gen-types.mjs --check   # exit 1, naming them, if any file is missing, stale or left over
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

import openapiTS, { COMMENT_HEADER, astToString } from 'openapi-typescript'

const check = process.argv.includes('--check')
const root = dirname(dirname(fileURLToPath(import.meta.url)))
const specDir = resolve(root, '..', 'openapi')
const outDir = join(root, 'src', 'api', 'generated')

let specs
try {
  specs = (await readdir(specDir)).filter((name) => name.endsWith('.json')).sort()
} catch (error) {
  if (error.code !== 'ENOENT') throw error
  specs = []
}
if (specs.length === 0) {
  console.log(`gen:types: no OpenAPI documents in ${specDir}; nothing to generate`)
  process.exit(0)
}

await mkdir(outDir, { recursive: true })
const stale = []
// A service whose document is gone must not leave types behind that still compile.
const wanted = new Set(specs.map((spec) => `${basename(spec, '.json')}.ts`))
for (const name of await readdir(outDir)) {
  if (!name.endsWith('.ts') || wanted.has(name)) continue
  if (check) stale.push(`${name} (no document)`)
  else await rm(join(outDir, name))
}
for (const spec of specs) {
  const text = COMMENT_HEADER + astToString(await openapiTS(pathToFileURL(join(specDir, spec))))
  const target = join(outDir, `${basename(spec, '.json')}.ts`)
  const current = await readFile(target, 'utf8').catch(() => null)
  if (current === text) continue
  if (check) {
    stale.push(basename(target))
  } else {
    await writeFile(target, text)
    console.log(`gen:types: ${spec} -> ${target}`)
  }
}
if (stale.length > 0) {
  console.error(`gen:types: stale generated types (run \`make openapi\`): ${stale.join(', ')}`)
  process.exit(1)
}
