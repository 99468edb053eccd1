// The demo users' passwords for the browser tests and the UI benchmark: FM_PASSWORD_<USER>,
// or the line "  user@flexmarket.local  PASSWORD" of the demo's output in FM_DEMO_OUT.
import { existsSync, readFileSync } from 'node:fs';

export function password(user) {
  const env = process.env['FM_PASSWORD_' + user.toUpperCase()];
  if (env) return env;
  const file = process.env.FM_DEMO_OUT;
  if (file && existsSync(file)) {
    const m = new RegExp(`^\\s+${user}@flexmarket\\.local\\s+(\\S+)\\s*$`, 'm').exec(readFileSync(file, 'utf8'));
    if (m) return m[1];
  }
  throw new Error(`no password for ${user}: set FM_DEMO_OUT or FM_PASSWORD_${user.toUpperCase()}`);
}
