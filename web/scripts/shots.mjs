// Dev helper: log in with playwright-core + Debian's chromium and screenshot pages.
// usage: node scripts/shots.mjs BASE_URL EMAIL PASSWORD OUTDIR [path ...] (env WIDTH, LANG_PICK)
import { chromium } from 'playwright-core';

const [base, email, password, out = '/tmp/shots', ...paths] = process.argv.slice(2);
const width = Number(process.env.WIDTH || 1280);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const ctx = await browser.newContext({ viewport: { width, height: Number(process.env.HEIGHT || 900) }, locale: process.env.LOCALE || 'en-US' });
const page = await ctx.newPage();
const problems = [];
page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
page.on('requestfailed', (r) => problems.push('requestfailed: ' + r.url() + ' ' + (r.failure()?.errorText || '')));
page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`); });
await page.goto(base + '/login');
await page.fill('input[name=email]', email);
await page.fill('input[name=password]', password);
await page.click('button[type=submit]');
await page.waitForURL(/dashboard/, { timeout: 10000 });
for (const p of paths.length ? paths : ['/dashboard']) {
  await page.goto(base + p);
  await page.waitForTimeout(Number(process.env.WAIT || 2500));
  const file = `${out}/${p.replace(/\W+/g, '_') || 'root'}-${width}.png`;
  await page.screenshot({ path: file, fullPage: process.env.FULL !== '0' });
  console.log('wrote', file);
}
console.log(problems.join('\n') || 'no problems');
await browser.close();
