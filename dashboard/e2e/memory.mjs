// The Memory page's formation tabs in the browser, called from run.mjs: a belief seeded through memory-service
// ("The user lives in Porto") is corrected in plain words on the Profile tab; the correction goes through the
// real memory-service formation and llm-gateway to the fake model, whose extraction answer (staged by
// tests/test_dashboard_e2e.py for texts whose source is a correction) names the new value. The profile then
// shows Lisbon, the Contradictions tab the replaced value, and Consolidation, Ingestion and Stats their numbers.

const OLD_BELIEF = 'The user lives in Porto'
const NEW_BELIEF = 'The user lives in Lisbon'

export async function memorySteps({ page, step, url, expectVisible, screenshot, screenshotBothWidths, api, memoryUrl }) {
  // 1. Profile: the seeded belief is listed with its confidence; "Correct this" replaces it.
  await step('memory-profile', async () => {
    const seeded = await api(memoryUrl, '/api/v1/memories/facts', {
      method: 'POST',
      body: JSON.stringify({ project_id: 'nova', category: 'user', key: 'lives_in', content: OLD_BELIEF, confidence: 0.7 }),
    })
    if (seeded.status !== 200) throw new Error(`could not seed the belief: ${seeded.status} ${JSON.stringify(seeded.body)}`)
    await page.goto(url('/memory'))
    await page.getByRole('tab', { name: 'Profile' }).click()
    await page.waitForURL('**/memory?view=profile')
    const facts = page.getByRole('list', { name: 'Facts' })
    await expectVisible(facts.getByText(OLD_BELIEF, { exact: true }))
    await expectVisible(facts.getByText('70% sure'))

    await facts.getByRole('button', { name: `Correct: ${OLD_BELIEF}` }).click()
    const dialog = page.getByRole('dialog', { name: 'Correct this belief' })
    await dialog.getByLabel('What is true').fill('I moved to Lisbon last month.')
    await screenshot('memory-profile-correct', { fullPage: false })
    await dialog.getByRole('button', { name: 'Save correction' }).click()
    await dialog.waitFor({ state: 'detached' })
    await expectVisible(page.getByText(/^Correction saved/))
    await expectVisible(facts.getByText(NEW_BELIEF, { exact: true }))
    if (await facts.getByText(OLD_BELIEF, { exact: true }).count()) throw new Error('the corrected belief is still listed')
    // The belief now comes from the correction itself, a fully trusted source.
    await expectVisible(facts.getByRole('listitem').filter({ hasText: NEW_BELIEF }).getByText('trust 1.00'))
    await screenshotBothWidths('memory-profile')
  })

  // 2. The replaced value is on the Contradictions tab; the correction is a source of its own.
  await step('memory-contradictions-sources', async () => {
    await page.goto(url('/memory?view=contradictions'))
    const item = page.getByRole('list', { name: 'Contradictions' }).getByRole('listitem').filter({ hasText: OLD_BELIEF })
    await expectVisible(item.getByText('replaced the old value'))
    await expectVisible(item.getByText(NEW_BELIEF))
    await screenshotBothWidths('memory-contradictions')

    await page.getByRole('tab', { name: 'Sources' }).click()
    await page.getByLabel('Kind').selectOption('correction')
    await page.getByRole('list', { name: 'Sources' }).getByRole('button', { name: 'Open source profile correction' }).first().click()
    const dialog = page.getByRole('dialog', { name: 'Source' })
    await expectVisible(dialog.getByText('correction', { exact: true }).first())
    await expectVisible(dialog.getByRole('list', { name: 'Memories from this source' }).getByText(NEW_BELIEF, { exact: true }))
    await screenshot('memory-source', { fullPage: false })
    await dialog.getByRole('button', { name: 'Close' }).click()
  })

  // 3. Consolidation runs on demand and is logged; the queue and the statistics are shown.
  await step('memory-consolidation-stats', async () => {
    await page.goto(url('/memory?view=consolidation'))
    await page.getByRole('button', { name: 'Run now' }).click()
    await expectVisible(page.getByText(/^Consolidation finished/))
    const runs = page.getByRole('table', { name: 'Consolidation runs' })
    await expectVisible(runs.getByText('manual', { exact: true }).first())
    await screenshotBothWidths('memory-consolidation')

    await page.getByRole('tab', { name: 'Ingestion' }).click()
    await expectVisible(page.getByLabel('Queue depth'))
    await expectVisible(page.getByRole('heading', { name: /Dead letters/ }))
    await screenshotBothWidths('memory-ingestion')

    await page.getByRole('tab', { name: 'Stats' }).click()
    const tiers = page.getByLabel('Memories by tier')
    await expectVisible(tiers.getByText('semantic', { exact: true }))
    await expectVisible(page.getByText(/Last consolidation:.*manual/))
    await screenshotBothWidths('memory-stats')
  })
}
