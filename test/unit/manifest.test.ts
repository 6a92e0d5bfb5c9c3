import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_VAR_NAMES } from '../../src/services/resources.js';

// The file Heroku receives (`heroku addons:admin:manifest:push`), read as JSON and checked the way
// kensa's manifest check does (reference §10 items 1-2), not through our own loader.
const manifest = JSON.parse(readFileSync(fileURLToPath(new URL('../../addon-manifest.json', import.meta.url)), 'utf8'));
const KENSA_REGIONS = ['us', 'eu', 'frankfurt', 'oregon', 'tokyo', 'virginia', '*'];

describe('addon-manifest.json (checklist 1-2)', () => {
  it('1: has a non-empty id and an api object', () => {
    expect(typeof manifest.id).toBe('string');
    expect(manifest.id.length).toBeGreaterThan(0);
    expect(manifest.id).toMatch(/^[a-z][a-z0-9-]*$/);
    expect(typeof manifest.api).toBe('object');
  });

  it('1: regions come only from the kensa list and include us', () => {
    expect(Array.isArray(manifest.api.regions)).toBe(true);
    for (const region of manifest.api.regions) expect(KENSA_REGIONS).toContain(region);
    expect(manifest.api.regions.includes('us') || manifest.api.regions.includes('*')).toBe(true);
  });

  it('1: has a password and no obsolete api.username', () => {
    expect(typeof manifest.api.password).toBe('string');
    expect(manifest.api.password.length).toBeGreaterThan(0);
    expect(manifest.api).not.toHaveProperty('username');
  });

  it('1: production URLs are https, test URLs are localhost:5000 with the right paths', () => {
    expect(manifest.api.production.base_url).toMatch(/^https:\/\//);
    expect(manifest.api.production.sso_url).toMatch(/^https:\/\//);
    expect(new URL(manifest.api.production.base_url).pathname).toBe('/heroku/resources');
    expect(new URL(manifest.api.production.sso_url).pathname).toBe('/sso/login');
    expect(manifest.api.test).toEqual({
      base_url: 'http://localhost:5000/heroku/resources',
      sso_url: 'http://localhost:5000/sso/login',
    });
  });

  it('1: config_vars are well-formed, carry the HERALD_ prefix and match what provisioning returns', () => {
    const prefix = manifest.api.config_vars_prefix ?? manifest.id.toUpperCase().replace(/-/g, '_');
    expect(prefix).toBe('HERALD');
    for (const name of manifest.api.config_vars) {
      expect(name).toMatch(/^[A-Z][0-9A-Z_]+$/);
      expect(name.startsWith(`${prefix}_`)).toBe(true);
    }
    expect([...manifest.api.config_vars].sort()).toEqual([...CONFIG_VAR_NAMES].sort());
  });

  it('2: is a v3 manifest with an SSO salt', () => {
    expect(manifest.api.version).toBe('3');
    expect(typeof manifest.api.sso_salt).toBe('string');
    expect(manifest.api.sso_salt.length).toBeGreaterThan(0);
  });

  it('requires deploy and attach notifications (the legacy events receiver depends on them)', () => {
    expect(manifest.api.requires).toEqual(expect.arrayContaining(['deploy_notify', 'attach_notify']));
    expect(manifest.api.requires).not.toContain('syslog_drain');
  });
});
