// The Recovery page against the real stack: data seeded, a backup made from the page (live progress), a change
// after it, and a restore from the page (pre-check, confirmation, comparison) that brings the old data back;
// the services still take writes after the restore; then a factory reset of one category (memories) removes
// that category's data and leaves the rest (an API key).
// The archive also goes out and back through the browser: downloaded, deleted, uploaded again, then restored.
// Called from run.mjs with its helpers; each part is its own `step`, so a failure names what broke.

import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

const RESTORE_MARKER = 'E2E restore marker: the nightly build runs at 02:30 UTC.'
const RESET_MARKER = 'E2E reset marker: this memory goes with a factory reset of memories.'
const KEPT_KEY = 'e2e-kept-through-reset'

export async function recoverySteps({ page, step, url, api, config, expectVisible, screenshot, screenshotBothWidths }) {
  let backupName = null
  let markerId = null

  async function storeMemory(content) {
    const stored = await api(config.memory, '/api/v1/memories', { method: 'POST', body: JSON.stringify({ content, tier: 'semantic' }) })
    if (stored.status !== 201) throw new Error(`could not store a memory: ${stored.status} ${JSON.stringify(stored.body)}`)
    return stored.body.id
  }

  async function createKey(name) {
    const key = await api(config.orchestrator, '/api/v1/keys', { method: 'POST', body: JSON.stringify({ name }) })
    if (key.status !== 201) throw new Error(`could not create an API key: ${key.status} ${JSON.stringify(key.body)}`)
  }

  /** The Memory page lists `content` (or, with `present` false, has finished loading without it). */
  async function expectMemoryListed(content, present) {
    await page.goto(url('/memory'))
    await expectVisible(page.getByRole('heading', { name: 'Memory', exact: true }))
    if (present) return expectVisible(page.getByText(content))
    // The list has loaded once its pager ("1–3 of 3") or its empty state is on screen; the page keeps polling.
    await expectVisible(page.getByText(/^\d+–\d+ of \d+$|^No memories yet$/))
    if (await page.getByText(content).count()) throw new Error(`the Memory page still lists "${content}"`)
  }

  await step('recovery-backup', async () => {
    markerId = await storeMemory(RESTORE_MARKER)
    await storeMemory(RESET_MARKER)
    await createKey(KEPT_KEY)
    await page.goto(url('/recovery'))
    await expectVisible(page.getByRole('heading', { name: 'Recovery', exact: true }))
    await expectVisible(page.getByLabel('Recovery overview'))
    await page.getByRole('button', { name: 'Back up now' }).click()
    const progress = page.getByRole('status', { name: 'Backup progress' })
    await expectVisible(progress)
    await expectVisible(progress.filter({ hasText: /^Done/ }), 45_000)
    backupName = /nova-backup-\S+?\.tar/.exec(await progress.textContent())?.[0] ?? null
    if (!backupName) throw new Error(`the finished backup is not named: ${await progress.textContent()}`)
    await expectVisible(page.getByRole('list', { name: 'Backups' }).getByRole('listitem').filter({ hasText: backupName }))
    await screenshotBothWidths('recovery')
  })

  await step('recovery-download-upload', async () => {
    if (!backupName) throw new Error('no backup from the step before')
    await page.goto(url('/recovery'))
    const list = page.getByRole('list', { name: 'Backups' })
    const row = list.getByRole('listitem').filter({ hasText: backupName })
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: `Download ${backupName}` }).click()])
    if (download.suggestedFilename() !== backupName) throw new Error(`the download is named ${download.suggestedFilename()}`)
    const saved = join(config.artifacts, backupName)
    await download.saveAs(saved)
    const listed = await api(config.base, '/recovery-api/api/v1/recovery/backups')
    const size = listed.body.backups.find((b) => b.name === backupName)?.size_bytes
    if (statSync(saved).size !== size) throw new Error(`downloaded ${statSync(saved).size} bytes of a ${size}-byte archive`)

    await row.getByRole('button', { name: `Delete ${backupName}` }).click()
    await page.getByRole('dialog', { name: 'Delete this backup?' }).getByRole('button', { name: 'Delete backup' }).click()
    await row.waitFor({ state: 'detached' })

    await page.getByLabel('Backup archive to upload').setInputFiles(saved)
    await expectVisible(page.getByText(`Backup ${backupName} uploaded and verified`), 30_000)
    await expectVisible(row)
  })

  await step('recovery-restore', async () => {
    if (!backupName || !markerId) throw new Error('no backup from the step before')
    // The change the restore must undo.
    const removed = await api(config.memory, `/api/v1/memories/${markerId}`, { method: 'DELETE' })
    if (removed.status !== 204) throw new Error(`could not delete the marker memory: ${removed.status}`)
    await expectMemoryListed(RESTORE_MARKER, false)

    await page.goto(url('/recovery'))
    await page.getByRole('button', { name: `Restore ${backupName}` }).click()
    const dialog = page.getByRole('dialog', { name: 'Restore this backup?' })
    await expectVisible(dialog.getByText('Pre-check passed', { exact: false }))
    await screenshot('recovery-restore-precheck', { fullPage: false })
    await dialog.getByRole('button', { name: 'Restore backup' }).click()
    await expectVisible(dialog.getByText(/^Restored: all \d+ tables and \d+ Redis databases match the backup\.$/), 50_000)
    await screenshot('recovery-restore-report', { fullPage: false })
    await dialog.getByRole('button', { name: 'Done' }).click()

    await expectMemoryListed(RESTORE_MARKER, true)
  })

  // The restore replaced every table under the running services; their next writes must still succeed.
  await step('recovery-writes-after-restore', async () => {
    const refused = []
    for (const write of [() => storeMemory('E2E: a memory stored right after a restore.'), () => createKey('e2e-after-restore')]) {
      await write().catch((error) => refused.push(error.message))
    }
    if (refused.length) throw new Error(`after the restore: ${refused.join('; ')}`)
  })

  await step('recovery-reset', async () => {
    await page.goto(url('/recovery'))
    const categories = page.getByRole('list', { name: 'Reset categories' })
    const memories = categories.getByRole('listitem').filter({ hasText: 'Every memory and fact' })
    await expectVisible(memories.getByText(/Tables: .*\bmemories\b/))
    await memories.getByRole('checkbox').check()
    const reset = page.getByRole('button', { name: 'Reset 1 category' })
    if (!(await reset.isDisabled())) throw new Error('the reset can be pressed before RESET is typed')
    if (!(await page.getByRole('checkbox', { name: 'Back up first (recommended)' }).isChecked())) throw new Error('"Back up first" is not on by default')
    await page.getByLabel('Type RESET to confirm').fill('RESET')
    await memories.scrollIntoViewIfNeeded()
    await screenshot('recovery-reset-chosen', { fullPage: false })
    await reset.click()
    const result = page.getByRole('region', { name: 'Reset result' })
    await expectVisible(result, 45_000)
    const text = await result.textContent()
    if (!/before-reset/.test(text)) throw new Error(`the reset took no backup first: ${text}`)
    await result.scrollIntoViewIfNeeded()
    await screenshot('recovery-reset-done', { fullPage: false })

    // Inside the category: gone. Outside it: the API key is still there.
    await expectMemoryListed(RESET_MARKER, false)
    await expectMemoryListed(RESTORE_MARKER, false)
    await page.goto(url('/keys'))
    await expectVisible(page.getByRole('row').filter({ hasText: KEPT_KEY }))
  })

  await step('recovery-diagnostics', async () => {
    await page.goto(url('/recovery'))
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download diagnostics' }).click()])
    if (!/^nova-diagnostics-.*\.json$/.test(download.suggestedFilename())) throw new Error(`the bundle is named ${download.suggestedFilename()}`)
    const saved = join(config.artifacts, download.suggestedFilename())
    await download.saveAs(saved)
    const text = readFileSync(saved, 'utf8')
    JSON.parse(text)
    if (text.includes(config.secret)) throw new Error('the diagnostics bundle holds the admin secret')
  })

  // The Models page's view of this machine, from recovery: hardware, the recommendation, the local backend.
  await step('models-hardware', async () => {
    await page.goto(url('/models'))
    const hardware = page.getByLabel('Hardware')
    await expectVisible(hardware.getByText(/\d+ cores/))
    await expectVisible(hardware.getByText(/ of /).first())
    const recommended = await expectVisible(page.getByTestId('backend-recommendation'))
    if (!/^Recommended here: \S+ with \S+/.test(await recommended.textContent())) throw new Error(`no recommendation: ${await recommended.textContent()}`)
    await expectVisible(page.getByTestId('backend-status'))
    await page.getByRole('heading', { name: 'Local model server' }).scrollIntoViewIfNeeded()
    await screenshot('models-hardware', { fullPage: false })
  })
}
