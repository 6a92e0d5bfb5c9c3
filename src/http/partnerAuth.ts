import type { NextFunction, Request, Response } from 'express';
import basicAuth from 'basic-auth';
import type { Config } from '../config.js';
import { safeEqual } from '../crypto.js';
import { unauthorized } from '../errors.js';

/**
 * Basic auth for every call Heroku makes to the partner API: user = manifest id, password =
 * manifest api.password. Runs before any lookup (kensa checks a wrong password on a resource that
 * is already gone and expects 401), compares in constant time, never logs what it was sent.
 */
export function partnerAuth(config: Config) {
  const { addonId, apiPassword } = config.heroku;
  return (req: Request, _res: Response, next: NextFunction): void => {
    const credentials = basicAuth(req);
    // Both comparisons always run, so timing does not reveal which half was wrong.
    const userOk = safeEqual(credentials?.name ?? '', addonId);
    const passOk = safeEqual(credentials?.pass ?? '', apiPassword);
    if (!credentials || !(userOk && passOk)) {
      next(unauthorized('Heroku partner credentials are missing or wrong.', { 'WWW-Authenticate': 'Basic realm="heroku"' }));
      return;
    }
    next();
  };
}
