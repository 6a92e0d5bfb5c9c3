import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The add-on manifest, read once. Its credentials are the development defaults of the config. */
export interface AddonManifest {
  id: string;
  name: string;
  api: {
    config_vars_prefix?: string;
    config_vars: string[];
    password: string;
    sso_salt: string;
    regions: string[];
    requires: string[];
    production: { base_url: string; sso_url: string };
    test: { base_url: string; sso_url: string };
    version: string;
  };
}

function findManifest(): string {
  // src/manifest.ts and dist/src/manifest.js both live below the project root.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'addon-manifest.json');
    try {
      readFileSync(candidate);
      return candidate;
    } catch {
      dir = path.dirname(dir);
    }
  }
  throw new Error('addon-manifest.json not found above ' + fileURLToPath(import.meta.url));
}

let cached: AddonManifest | undefined;

export function loadManifest(): AddonManifest {
  cached ??= JSON.parse(readFileSync(findManifest(), 'utf8')) as AddonManifest;
  return cached;
}
