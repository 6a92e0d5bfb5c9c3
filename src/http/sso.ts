import { Router } from 'express';
import type { Deps } from '../deps.js';

// PLACEHOLDER: replaced by its owner.
export function ssoRouter(_deps: Deps): Router {
  return Router();
}
