import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_URL = 'https://github.com/herald-webhooks/herald';

/** Herald's version from package.json (src/ and dist/src/ both sit below it). */
function heraldVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'herald' && pkg.version) return pkg.version;
    } catch {
      // not here: keep climbing
    }
    dir = path.dirname(dir);
  }
  return '0.0.0';
}

/** Sent on every webhook so receivers (and their firewalls) can tell who is calling and where to read about it. */
export const USER_AGENT = `Herald-Webhooks/${heraldVersion()} (+${PROJECT_URL})`;
