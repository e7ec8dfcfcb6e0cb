// Generates src/api/generated/<service>.ts from each OpenAPI document in ../openapi/<service>.json.
// Not part of `npm run build`: the documents are exported from the running services by a separate step,
// and the generated files are committed so a build never needs the services.
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

import openapiTS, { COMMENT_HEADER, astToString } from 'openapi-typescript'

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
for (const spec of specs) {
  const ast = await openapiTS(pathToFileURL(join(specDir, spec)))
  const target = join(outDir, `${basename(spec, '.json')}.ts`)
  await writeFile(target, COMMENT_HEADER + astToString(ast))
  console.log(`gen:types: ${spec} -> ${target}`)
}
