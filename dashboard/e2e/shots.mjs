// Development aid: screenshots of dashboard pages at desktop and phone width.
//   node e2e/shots.mjs http://127.0.0.1:33000 /tmp/shots /memory /status
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

import { launchBrowser, watchConsole } from './browser.mjs'

const [base, outDir, ...paths] = process.argv.slice(2)
const secret = process.env.NOVA_ADMIN_SECRET ?? ''
const theme = process.env.THEME ?? 'light'
mkdirSync(outDir, { recursive: true })
const browser = await launchBrowser()
const problems = []
const page = await browser.context.newPage()
watchConsole(page, problems)
await page.addInitScript(
  ([s, t]) => {
    localStorage.setItem('nova.adminSecret', s)
    localStorage.setItem('nova.theme', t)
    localStorage.setItem('nova.onboarded', '1')
  },
  [secret, theme],
)
for (const path of paths) {
  for (const [label, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    await page.setViewportSize(viewport)
    await page.goto(base + path)
    await page.waitForTimeout(Number(process.env.WAIT ?? 1500))
    const name = `${path.replace(/\W+/g, '_') || 'root'}-${label}-${theme}.png`
    await page.screenshot({ path: join(outDir, name), fullPage: true })
    console.log(join(outDir, name))
  }
}
console.log(problems.length ? problems.join('\n') : 'no console errors')
await browser.close()
