// Notifications and the friction log in the browser, against the running stack: called from run.mjs with its
// helpers. Everything it needs is staged through the public API (a pod that asks for a human review), so the
// browser only watches: toasts and the "needs you" count appear on whatever page is open.
import { randomBytes } from 'node:crypto'

/** `ctx`: run.mjs's page, step runner and helpers. */
export async function runNotificationsFriction({ page, step, url, api, config, expectVisible, screenshot }) {
  const orchestrator = (path, init) => api(config.orchestrator, path, init)
  const runId = randomBytes(3).toString('hex')

  async function submit(goal, podId) {
    const submitted = await orchestrator('/api/v1/pipeline/tasks', { method: 'POST', body: JSON.stringify({ goal, ...(podId ? { pod_id: podId } : {}) }) })
    if (submitted.status !== 202) throw new Error(`could not submit a task: ${submitted.status} ${JSON.stringify(submitted.body)}`)
    return submitted.body.id
  }

  /** The badge's count, read in one step: the badge can go between a visibility check and a read. */
  async function needsYouCount() {
    const badge = page.getByRole('navigation', { name: 'Main' }).getByTestId('needs-you-count')
    const titles = await badge.evaluateAll((badges) => badges.map((el) => el.getAttribute('title') ?? ''))
    return titles.length ? Number(titles[0].split(' ')[0]) : 0
  }

  /** The server's count of the caller's tasks that wait for a person, as the dashboard asks for it. */
  async function serverCount() {
    let total = 0
    for (const status of ['clarification_needed', 'pending_human_review']) {
      const found = await orchestrator(`/api/v1/pipeline/tasks?status=${status}&limit=1`)
      if (found.status !== 200) throw new Error(`could not count ${status} tasks: ${found.status}`)
      total += found.body.total
    }
    return total
  }

  /** Until our task is in `status` and the badge shows the server's count. Other tasks (the cortex's goals)
   * may enter or leave those states meanwhile, so the badge is compared with the server, not with a number. */
  async function waitForBadge(taskId, status) {
    let shown, expected, actual
    for (let i = 0; i < 60; i++) {
      actual = (await orchestrator(`/api/v1/pipeline/tasks/${taskId}`)).body?.status
      ;[shown, expected] = [await needsYouCount(), await serverCount()]
      if (actual === status && shown === expected) return
      await page.waitForTimeout(500)
    }
    throw new Error(`the "needs you" count is ${shown}, the server's ${expected}; the task is ${actual}, not ${status}`)
  }

  const notification = (headline, goal) =>
    page.getByTestId('task-notification').filter({ hasText: headline }).filter({ hasText: goal })

  // A task waiting for review shows up as a toast and in the count; rejecting it (from a script) makes it a
  // failed toast and takes the count back; a task of the default pod completes with a toast that opens it.
  await step('notifications', async () => {
    const pods = await orchestrator('/api/v1/pods')
    const template = pods.body.find((pod) => pod.is_default) ?? pods.body[0]
    if (!template) throw new Error('the stack has no pod to copy')
    const pod = await orchestrator('/api/v1/pods', {
      method: 'POST',
      body: JSON.stringify({ name: `e2e-review-${runId}`, require_human_review: true, agents: template.agents }),
    })
    if (pod.status !== 201) throw new Error(`could not create the review pod: ${pod.status} ${JSON.stringify(pod.body)}`)

    await page.goto(url('/keys'))
    await expectVisible(page.getByRole('heading', { name: 'API keys' }))

    const reviewGoal = `E2E review ${runId}: rename the settings page`
    const reviewId = await submit(reviewGoal, pod.body.id)
    const waiting = await expectVisible(notification('Task needs your review', reviewGoal), 60_000)
    await waitForBadge(reviewId, 'pending_human_review')
    if ((await needsYouCount()) < 1) throw new Error('the "needs you" count leaves out the task waiting for review')
    await screenshot('notification-needs-review', { fullPage: false })
    const link = await waiting.getByRole('link', { name: 'Open task' }).getAttribute('href')
    if (link !== `/tasks?task=${reviewId}`) throw new Error(`the toast links to ${link}`)

    const rejected = await orchestrator(`/api/v1/pipeline/tasks/${reviewId}/review`, {
      method: 'POST',
      body: JSON.stringify({ decision: 'reject', comment: 'e2e' }),
    })
    if (rejected.status !== 200) throw new Error(`could not reject the review: ${rejected.status} ${JSON.stringify(rejected.body)}`)
    await expectVisible(notification('Task failed', reviewGoal), 30_000)
    await waitForBadge(reviewId, 'failed')
    await screenshot('notification-failed', { fullPage: false })

    const doneGoal = `E2E notification ${runId}: one line about Nova`
    const doneId = await submit(doneGoal)
    const done = await expectVisible(notification('Task completed', doneGoal), 60_000)
    await done.getByRole('link', { name: 'Open task' }).click()
    await page.waitForURL((u) => u.pathname === '/tasks' && u.searchParams.get('task') === doneId)
    await expectVisible(page.getByRole('dialog', { name: 'Task' }).getByText('complete', { exact: true }))
    for (const card of await page.getByTestId('task-notification').all()) await card.getByRole('button', { name: 'Dismiss' }).click()
  })

  // "Something went wrong here" from the Usage page: the report carries the page and a screenshot the browser
  // drew, is listed on the Friction page, and "Fix this" turns it into a pipeline task.
  await step('friction', async () => {
    const text = `E2E friction ${runId}: the chart has no labels`
    await page.goto(url('/usage'))
    await expectVisible(page.getByRole('heading', { name: 'Usage', exact: true }))
    await page.getByRole('button', { name: 'Something went wrong here' }).click()
    const dialog = page.getByRole('dialog', { name: 'Something went wrong here' })
    await expectVisible(dialog.getByAltText('Screenshot attached to the report'))
    await dialog.getByLabel('What went wrong?').fill(text)
    await screenshot('friction-report', { fullPage: false })
    await dialog.getByRole('button', { name: 'Send report' }).click()
    await expectVisible(page.getByText('Thanks: the report is filed under Friction.'))

    const listed = await orchestrator('/api/v1/friction')
    const report = listed.body.find((r) => r.text === text)
    if (!report) throw new Error('the orchestrator does not list the report')
    if (report.page !== '/usage' || !report.has_screenshot) throw new Error(`the report was filed as ${JSON.stringify(report)}`)
    const full = await orchestrator(`/api/v1/friction/${report.id}`)
    if (!/^data:image\/jpeg;base64,/.test(full.body.screenshot || '')) throw new Error('the screenshot is not a JPEG data URL')

    await page.goto(url('/friction'))
    const item = page.getByRole('list', { name: 'Friction reports' }).getByRole('listitem').filter({ hasText: text })
    await expectVisible(item)
    await expectVisible(item.getByText('open', { exact: true }))
    await item.getByRole('button', { name: 'Fix this' }).click()
    await expectVisible(item.getByRole('link', { name: 'Open fix task' }))
    await expectVisible(item.getByText('fixing', { exact: true }))
    await screenshot('friction-list', { fullPage: false })
    const fixed = await orchestrator(`/api/v1/friction/${report.id}`)
    if (!fixed.body.task_id) throw new Error('"Fix this" left the report without a task')
  })

  // Tools: the groups the orchestrator reports, switched as the API says; a switch changes the permission.
  await step('tools', async () => {
    const permissions = await orchestrator('/api/v1/tool-permissions')
    await page.goto(url('/tools'))
    await expectVisible(page.getByRole('heading', { name: 'Tools', exact: true }))
    for (const [group, on] of Object.entries(permissions.body.groups)) {
      const toggle = page.getByRole('region', { name: group, exact: true }).getByRole('switch', { name: `${group} tools enabled` })
      if ((await toggle.isChecked()) !== on) throw new Error(`the ${group} switch says ${!on}, the orchestrator ${on}`)
    }
    const web = page.getByRole('region', { name: 'web', exact: true }).getByRole('switch', { name: 'web tools enabled' })
    const was = await web.isChecked()
    await web.click()
    await expectVisible(page.getByText(`web tools ${was ? 'switched off' : 'switched on'}`))
    const after = await orchestrator('/api/v1/tool-permissions')
    if (after.body.groups.web === was) throw new Error('the web group did not change')
    await screenshot('tools', { fullPage: false })
    await web.click()
    await expectVisible(page.getByText(`web tools ${was ? 'switched on' : 'switched off'}`))
  })

  // Settings: a rule written in the panel is stored with its patterns, then deleted again.
  await step('skills-rules', async () => {
    const name = `e2e-no-force-push-${runId}`
    await page.goto(url('/settings'))
    await page.getByRole('button', { name: 'New rule' }).click()
    const dialog = page.getByRole('dialog', { name: 'New rule' })
    await dialog.getByLabel('Name', { exact: true }).fill(name)
    await dialog.getByLabel('Rule', { exact: true }).fill('Never force-push to main.')
    await dialog.getByLabel('Argument pattern (optional)').fill('--force')
    await dialog.getByRole('button', { name: 'Create rule' }).click()
    const rules = page.getByRole('list', { name: 'Rules' })
    await expectVisible(rules.getByText(name))
    const stored = (await orchestrator('/api/v1/rules')).body.find((rule) => rule.name === name)
    if (stored?.argument_pattern !== '--force') throw new Error(`the rule was stored as ${JSON.stringify(stored)}`)
    await page.getByRole('button', { name: `Delete ${name}` }).click()
    await page.getByRole('dialog', { name: `Delete the rule “${name}”?` }).getByRole('button', { name: 'Delete rule' }).click()
    await rules.getByText(name).waitFor({ state: 'detached' })
  })
}
