import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { AppError } from '../errors.js';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../validation.js';

/**
 * express.json, plus a refusal of bodies nested deeper than MAX_JSON_DEPTH. JSON.parse reads
 * 10,000 levels happily, but everything after it that recurses (JSON.stringify, knex writing
 * jsonb, canonical hashing) overflows the stack: one check here keeps every route a 400.
 */
export function jsonBody(opts: Parameters<typeof express.json>[0]): RequestHandler[] {
  const depthGuard = (req: Request, _res: Response, next: NextFunction): void => {
    if (nestedDeeperThan(req.body, MAX_JSON_DEPTH)) {
      next(new AppError(400, 'invalid_json', `The request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`));
      return;
    }
    next();
  };
  return [express.json(opts), depthGuard];
}
