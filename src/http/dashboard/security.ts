import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { statSync } from 'node:fs';
import express, { Router } from 'express';
import helmet from 'helmet';
import type { Config } from '../../config.js';

/**
 * Heroku's nav header (boomerang) is the one script from elsewhere. The source is pinned to its
 * folder rather than the whole S3 host, which serves anybody's buckets.
 */
export const BOOMERANG_SOURCE = 'https://s3.amazonaws.com/assets.heroku.com/boomerang/';
export const BOOMERANG_SCRIPT = `${BOOMERANG_SOURCE}boomerang.js`;

/**
 * Security headers for every response (helmet). The CSP allows our own origin and boomerang only:
 * no inline script or style anywhere (the pages keep their CSS and JS in /assets), no framing, and
 * forms may only post back to us. HSTS and upgrade-insecure-requests only in production, where
 * Heroku's router terminates TLS: on http://localhost they would break development and tests.
 */
export function securityHeaders(config: Config) {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", BOOMERANG_SOURCE],
        styleSrc: ["'self'", BOOMERANG_SOURCE],
        imgSrc: ["'self'", 'data:', BOOMERANG_SOURCE],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        ...(config.isProduction ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    strictTransportSecurity: config.isProduction ? { maxAge: 180 * 86_400, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
  });
}

/** `public/` at the project root, found from src/http/dashboard (tests, tsx) or dist/src/http/dashboard. */
function findPublic(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'public');
    try {
      if (statSync(path.join(candidate, 'herald.css')).isFile()) return candidate;
    } catch {
      // not here; keep walking up
    }
    dir = path.dirname(dir);
  }
  throw new Error('public/ not found above ' + fileURLToPath(import.meta.url));
}

/** Chart.js's self-contained UMD build, served from node_modules: no CDN (and no internet here). */
function chartJsFile(): string {
  const entry = createRequire(import.meta.url).resolve('chart.js');
  return path.join(path.dirname(entry), 'chart.umd.min.js');
}

/** Static files under /assets: our CSS and JS, and the charting library. */
export function assetsRouter(): Router {
  const router = Router();
  const chartJs = chartJsFile();
  const cache = { maxAge: '1h' };
  router.get('/assets/vendor/chart.umd.min.js', (_req, res) => {
    res.sendFile(chartJs, cache);
  });
  router.use('/assets', express.static(findPublic(), { ...cache, index: false, redirect: false, fallthrough: true }));
  return router;
}
