/**
 * The web UI end to end: a real Likeness (API + worker + GPU emulator, PGlite) serving the built
 * UI, driven by Debian's Chromium through playwright-core. Walks the wizard with the training
 * toggle on, follows the run to ready in the settings screen, sees the bell count change live over
 * SSE, toggles the LoRA off and on, changes its strength, downloads it, generates in the studio with
 * the LoRA, opens the admin metrics; each screen is saved under
 * test-output/screens/ for a human to look at.
 *
 * The steps share one browser page and build on each other, in order.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN_TOKEN, FACES, HAVE_FACES, ROOT, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { uiUrl } from './ui-server.js';

const CHROMIUM = process.env.LIKENESS_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SCREENS = path.join(ROOT, 'test-output/screens');
// The launch flags for these offline machines (../shared/INFRA.md, "Chromium for browser tests").
const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];

if (!HAVE_CHROMIUM) console.log(`[web tests] skipped: no Chromium at ${CHROMIUM} (apt-get install -y --no-install-recommends chromium)`);
else if (!HAVE_FACES) console.log(`[web tests] skipped: the shared face photos are not at ${FACES}`);

describe.skipIf(!HAVE_CHROMIUM || !HAVE_FACES)('web UI in a real browser', () => {
  let h: Harness;
  let ui: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let user: { id: string; token: string };
  let characterId = '';
  const amy = path.join(FACES, 'identities/amy');

  const shot = (name: string) => page.screenshot({ path: path.join(SCREENS, `${name}.png`), fullPage: true });
  const lora = async () => (await h.call('GET', `/v1/characters/${characterId}/lora`, { token: user.token })).body;

  beforeAll(async () => {
    await mkdir(SCREENS, { recursive: true });
    // Training long enough for the settings screen to show it moving (the UI polls every 1.5 s).
    h = await startHarness({ LIKENESS_EMULATOR_TRAIN_SECONDS: '8' }, undefined, { web: true });
    ui = await uiUrl(h.url);
    user = (await h.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: { name: 'web-test' } })).body;
    await h.call('POST', `/v1/users/${user.id}/credits`, { token: ADMIN_TOKEN, body: { amount: 100_000, reason: 'web test' } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(15_000);
  });

  afterAll(async () => {
    await browser?.close();
    await ui?.close();
    await h?.close();
  });

  it('refuses a wrong token and signs in with a user token', async () => {
    await page.goto(`${ui.url}/characters`);
    await page.getByTestId('sign-in').waitFor();
    await shot('01-sign-in');
    await page.locator('input[name=token]').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByTestId('sign-in-error').textContent()).resolves.toContain('not valid');
    await shot('02-sign-in-error');

    await page.locator('input[name=token]').fill(user.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Back where the sign-in interrupted: the characters list, empty.
    await page.getByTestId('characters-screen').waitFor();
    await page.getByTestId('empty-state').waitFor();
    expect(new URL(page.url()).pathname).toBe('/characters');
    await shot('03-characters-empty');
  });

  it('walks the wizard: details, character sheet with check verdicts, training toggle on', async () => {
    await page.getByRole('link', { name: 'New character' }).click();
    await page.locator('input[name=name]').fill('Amy');
    await shot('04-wizard-details');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.waitForURL(/\/characters\/[0-9a-f-]+\/setup$/);
    characterId = page.url().split('/').at(-2)!;

    const files = (await readdir(amy)).sort().map((f) => path.join(amy, f));
    expect(files).toHaveLength(5);
    await page.locator('input[type=file]').setInputFiles(files);
    await page.locator('[data-testid=image-card][data-check=accepted]').nth(4).waitFor();
    await expect(page.getByTestId('accepted-count').textContent()).resolves.toContain('5 of 5 images accepted');
    // Thumbnails load through the signed-URL redirect.
    await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=image-card] img')).filter((i) => (i as HTMLImageElement).naturalWidth > 0).length === 5);
    await shot('05-wizard-upload');
    await page.getByRole('button', { name: 'Next' }).click();

    const toggle = page.getByTestId('training-toggle');
    await toggle.waitFor({ state: 'attached' });
    expect(await toggle.isChecked()).toBe(true);
    expect(await toggle.isDisabled()).toBe(false);
    // Z-Image Turbo: 15,000 + 5 x 1,000 (README prices).
    await expect(page.getByTestId('price-formula').textContent()).resolves.toBe('15,000 base + 5 images × 1,000 = 20,000');
    await expect(page.getByTestId('training-toggle-card').textContent()).resolves.toMatch(/Estimated training time: about \d+ min/);
    await shot('06-wizard-training');
    expect(await page.getByTestId('bell-count').getAttribute('data-count')).toBe('0');
    await page.getByTestId('finish').click();
    await page.waitForURL(`**/characters/${characterId}/lora`);
  });

  it('shows the run progressing to ready, and the bell count changing live', async () => {
    await page.locator('[data-testid=bell][data-stream=live]').waitFor();
    // "LoRA Training Started" arrives first, over the stream or with the first list fetch.
    await page.locator('[data-testid=bell-count][data-count="1"]').waitFor();

    // Live progress: a step above 0 of the recipe's 40 (LIKENESS_TRAIN_STEPS in the harness).
    await page.locator('[data-testid=run-progress][data-status=training]').waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => /Step [1-9]\d* \/ 40/.test(document.querySelector('[data-testid=run-steps]')?.textContent ?? ''), undefined, { timeout: 20_000 });
    await expect(page.getByTestId('run-eta').textContent()).resolves.toMatch(/left/);
    await shot('07-settings-training');

    await page.locator('[data-testid=run-progress][data-status=ready]').waitFor({ timeout: 45_000 });
    // "LoRA Training Complete": pushed over SSE; nothing on this screen reloads the list otherwise.
    await page.locator('[data-testid=bell-count][data-count="2"]').waitFor();
    await page.locator('[data-testid=version-row][data-active=true]').waitFor();
    await page.locator('[data-testid=history-row][data-status=ready]').waitFor();
    await expect(page.getByTestId('active-version').textContent()).resolves.toContain('v1');
    await shot('08-settings-ready');
  });

  it('turns the LoRA off and on, and changes its strength', async () => {
    const enabled = page.getByTestId('lora-enabled');
    expect(await enabled.isChecked()).toBe(true);
    await enabled.click({ force: true });
    await waitFor('LoRA disabled', async () => (await lora()).enabled === false);
    await page.waitForFunction(() => !(document.querySelector('[data-testid=lora-enabled]') as HTMLInputElement).checked);
    await shot('09-settings-lora-off');
    await enabled.click({ force: true });
    await waitFor('LoRA enabled', async () => (await lora()).enabled === true);

    const thumb = page.getByRole('slider', { name: 'LoRA strength' });
    await thumb.focus();
    for (let i = 0; i < 4; i++) await thumb.press('ArrowLeft');
    await waitFor('strength saved', async () => Math.abs((await lora()).strength - 0.8) < 1e-6);
    await expect(page.getByTestId('strength-value').textContent()).resolves.toBe('0.80');
  });

  it('downloads the LoRA file through its signed URL', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download').first().click()]);
    expect(download.suggestedFilename()).toMatch(/\.safetensors$/);
    expect(await download.failure()).toBeNull();
  });

  it('lists the notifications and opens the screen one links to', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.getByTestId('bell').click();
    await page.getByTestId('notifications-list').waitFor();
    // The dropdown fades in: shoot it once it is fully drawn.
    await page.waitForFunction(() => getComputedStyle(document.querySelector('[data-testid=notifications-list]')!).opacity === '1');
    await expect(page.getByTestId('notification').first().textContent()).resolves.toContain('LoRA Training Complete');
    // The viewport only: a full-page shot would draw the fixed header where the page is scrolled.
    await page.screenshot({ path: path.join(SCREENS, '10-notifications.png') });
    await page.goto(`${ui.url}/characters`);
    await page.getByTestId('bell').click();
    await page.getByTestId('notification').first().click();
    // "LoRA Training Complete" opens the studio for the character.
    await page.waitForURL(`**/studio?characterId=${characterId}`);
    await page.locator('[data-testid=bell-count][data-count="1"]').waitFor();
  });

  it('generates in the studio with the LoRA: the plan first, then the LoRA badge and identity scores', async () => {
    await page.getByTestId('studio-screen').waitFor();
    await page.getByTestId('plan-preview').waitFor();
    await page.locator('textarea[name=prompt]').fill('portrait in a sunlit café, 35 mm');
    // The plan before generating: the LoRA that just became ready, and why.
    await page.locator('[data-testid=plan-method][data-method=lora]').waitFor();
    await expect(page.getByTestId('plan-reason').textContent()).resolves.toContain('The active LoRA (v1)');
    await page.locator('input[name=count]').fill('2');
    await page.getByTestId('generate').click();
    await page.waitForURL(/[?&]generation=[0-9a-f-]+/);
    const generationId = new URL(page.url()).searchParams.get('generation')!;

    await page.locator('[data-testid=generation][data-status=completed]').waitFor({ timeout: 30_000 });
    await expect(page.getByTestId('generation-method').getAttribute('data-method')).resolves.toBe('lora');
    await expect(page.getByTestId('generation-method').textContent()).resolves.toBe('LoRA');
    const generated = (await h.call('GET', `/v1/generations/${generationId}`, { token: user.token })).body;
    expect(generated.method).toBe('lora');
    expect(generated.images).toHaveLength(2);
    expect(await page.getByTestId('generated-image').count()).toBe(2);
    for (const [i, img] of (generated.images as { identity: { similarity: number | null } }[]).entries()) {
      expect(img.identity.similarity, 'the emulator output is scored').not.toBeNull();
      await expect(page.getByTestId('identity-score').nth(i).textContent()).resolves.toMatch(/^Identity score -?\d\.\d\d$/);
    }
    await expect(page.getByTestId('match-badge').first().getAttribute('data-verdict')).resolves.toMatch(/^(match|no_match)$/);
    // The images load from their signed URLs.
    await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=generated-image] img')).filter((i) => (i as HTMLImageElement).naturalWidth > 1).length === 2);

    // "Does it look like the character?": the answer behind the satisfaction metric.
    await page.getByTestId('looks-like-yes').first().click();
    await page.locator('[data-testid=looks-like][data-answer=true]').waitFor();
    const answered = (await h.call('GET', `/v1/generations/${generationId}`, { token: user.token })).body;
    expect(answered.images.filter((i: { looksLikeCharacter: boolean | null }) => i.looksLikeCharacter === true)).toHaveLength(1);
    // From the top: a full-page shot of a scrolled page draws the fixed header in the middle.
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot('16-studio-lora');

    // Like a generated image, then take it back (the retrain step below counts liked images).
    const like = page.getByTestId('like-generated').first();
    await like.click();
    await page.locator('[data-testid=like-generated][data-liked=true]').waitFor();
    await like.click();
    await page.locator('[data-testid=like-generated][data-liked=true]').waitFor({ state: 'detached' });
  });

  it('shows the credits: the training was charged, nothing is left reserved', async () => {
    await page.goto(`${ui.url}/credits`);
    await expect(page.getByTestId('credits-available').textContent()).resolves.toBe('80,000');
    await expect(page.getByTestId('credits-reserved').textContent()).resolves.toBe('0');
    await expect(page.getByTestId('credits-spent').textContent()).resolves.toBe('20,000');
    await shot('11-credits');
    await page.goto(`${ui.url}/characters`);
    await page.locator('[data-testid=character-card]', { hasText: 'Amy' }).getByTestId('run-status').waitFor();
    await expect(page.getByTestId('run-status').getAttribute('data-status')).resolves.toBe('ready');
    await shot('12-characters');
  });

  it('suggests a retrain after a new like, retrains with the picked images, cancels, deletes the LoRA', async () => {
    await page.goto(`${ui.url}/characters/${characterId}/lora`);
    await page.getByTestId('retrain').waitFor();
    await page.getByTestId('image-card').first().getByTestId('like').click();
    await expect(page.getByTestId('retrain-banner').textContent()).resolves.toContain('You have 1 new liked image');
    await expect(page.getByTestId('selected-count').textContent()).resolves.toMatch(/^5 selected/);

    await page.getByTestId('retrain-button').click();
    await page.locator('[data-testid=run-progress]:not([data-status=ready])').waitFor();
    await page.getByTestId('cancel-run').click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel training' }).click();
    await page.locator('[data-testid=run-progress][data-status=cancelled]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid=history-row][data-status=cancelled]').waitFor();
    // Nothing charged: the reservation came back.
    await page.locator('[data-testid=header-credits]', { hasText: '80,000' }).waitFor();
    await shot('15-settings-cancelled');

    await page.getByTestId('delete-version').click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    // Wait on the state: the summary refetches after the delete settles.
    await page.getByTestId('active-version').filter({ hasText: /^No active LoRA$/ }).waitFor();
    await page.getByTestId('versions').waitFor({ state: 'detached' });
    expect((await lora()).activeVersion).toBeNull();
  });

  it('disables the training toggle when the balance is too low, with a way to credits', async () => {
    const poor = (await h.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: { name: 'no credits' } })).body;
    const c = (await h.call('POST', '/v1/characters', { token: poor.token, body: { name: 'Bernadette' } })).body;
    const form = new FormData();
    for (const f of (await readdir(amy)).sort()) form.append('files', new Blob([await readFile(path.join(amy, f))], { type: 'image/png' }), f);
    expect((await h.call('POST', `/v1/characters/${c.id}/images`, { token: poor.token, form })).status).toBe(201);

    const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await p.goto(`${ui.url}/sign-in`);
      await p.evaluate((token) => localStorage.setItem('likeness.session', JSON.stringify({ kind: 'user', token })), poor.token);
      await p.goto(`${ui.url}/characters/${c.id}/setup`);
      await p.getByRole('button', { name: 'Next' }).click();
      await p.getByTestId('not-enough-credits').waitFor();
      const toggle = p.getByTestId('training-toggle');
      expect(await toggle.isDisabled()).toBe(true);
      expect(await toggle.isChecked()).toBe(false);
      expect(await p.getByTestId('not-enough-credits').getByRole('link', { name: 'Get more credits' }).getAttribute('href')).toBe('/credits');
      await expect(p.getByTestId('finish').textContent()).resolves.toBe('Finish without training');
      await p.screenshot({ path: path.join(SCREENS, '14-wizard-low-balance.png'), fullPage: true });
    } finally {
      await p.close();
    }
  });

  it('lets the admin act as the user', async () => {
    const admin = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await admin.goto(`${ui.url}/sign-in`);
      await admin.getByRole('tab', { name: 'Admin' }).click();
      await admin.locator('input[name=admin-token]').fill(ADMIN_TOKEN);
      await admin.locator('input[name=act-as]').fill(user.id);
      await admin.getByRole('button', { name: 'Sign in as admin' }).click();
      await admin.locator('[data-testid=character-card]', { hasText: 'Amy' }).waitFor();
      await admin.goto(`${ui.url}/admin`);
      await admin.getByTestId('admin-screen').waitFor();
      await admin.screenshot({ path: path.join(SCREENS, '13-admin.png'), fullPage: true });

      // Metrics: the studio's generation ran on the emulator, so it is excluded and every chart
      // says so (n = 0) instead of drawing 0 %.
      await admin.getByRole('link', { name: 'Metrics' }).click();
      await admin.getByTestId('metrics-screen').waitFor();
      await admin.getByTestId('chart-by-method').getByTestId('no-data').waitFor();
      await expect(admin.getByTestId('chart-by-method').getByTestId('no-data').textContent()).resolves.toContain('No data yet (n = 0)');
      await admin.getByTestId('chart-by-base-model').getByTestId('no-data').waitFor();
      await expect(admin.getByTestId('stat-lora').getAttribute('data-n')).resolves.toBe('0');
      await expect(admin.getByTestId('excluded-emulated').textContent()).resolves.toMatch(/^[1-9]\d* emulated attempts? excluded$/);
      // Success metrics: emulated runs, generations and images are left out (n = 0); adoption
      // counts characters (Amy's sheet with training on), so its bar is drawn.
      await expect(admin.getByTestId('metric-completion').getAttribute('data-n')).resolves.toBe('0');
      await expect(admin.getByTestId('metric-satisfaction').getAttribute('data-n')).resolves.toBe('0');
      await admin.getByTestId('chart-training-time').getByTestId('no-data').waitFor();
      await expect(admin.getByTestId('metric-adoption').getAttribute('data-n')).resolves.toBe('1');
      await admin.getByTestId('chart-rates').locator('.recharts-bar-rectangle').first().waitFor();
      await admin.screenshot({ path: path.join(SCREENS, '17-admin-metrics.png'), fullPage: true });

      // The charts with real data, and the error state: the consistency report answered by a fixture.
      const summary = (n: number, matched: number) => ({ n, matched, matchRate: n ? matched / n : null, matchRateInterval: n ? { low: 0.5, high: 0.99 } : null, meanSimilarity: n ? 0.93 : null, p5Similarity: null, noFaceRate: n ? 0 : null, multiFaceRate: null, copyPasteFlagged: 0 });
      const empty = summary(0, 0);
      const fixture = {
        recognizerId: 'faceapi-resnet128@1.7.15',
        tau: 0.91,
        excluded: { emulated: 2, otherRecognizer: 0 },
        overall: summary(60, 52),
        byMethod: { lora: summary(40, 38), faceswap: summary(20, 14), plain: empty },
        byBaseModel: { 'zimage-turbo': summary(30, 28), 'flux-dev': summary(30, 24), wan21: empty, wan22: empty, 'qwen-image': empty },
        byLoraVersion: [{ loraModelId: 'l1', version: 1, baseModel: 'zimage-turbo', ...summary(30, 28) }, { loraModelId: 'l2', version: 1, baseModel: 'flux-dev', ...summary(10, 10) }],
        delivered: summary(40, 39),
      };
      await admin.route('**/v1/metrics/consistency*', (r) => r.fulfill({ json: fixture }));
      await admin.reload();
      await admin.getByTestId('chart-by-method').locator('.recharts-bar-rectangle').first().waitFor();
      await admin.getByTestId('chart-by-base-model').locator('.recharts-bar-rectangle').first().waitFor();
      await expect(admin.getByTestId('stat-lora').textContent()).resolves.toContain('95.0 %');
      await admin.screenshot({ path: path.join(SCREENS, '18-admin-metrics-fixture.png'), fullPage: true });
      await admin.unroute('**/v1/metrics/consistency*');
      await admin.route('**/v1/metrics/consistency*', (r) => r.fulfill({ status: 403, json: { error: { code: 'forbidden', message: 'Not for you.' } } }));
      await admin.reload();
      await admin.getByTestId('error-state').filter({ hasText: 'Not for you.' }).waitFor();
    } finally {
      await admin.close();
    }
  });
});
