import { Router } from 'express';
import type { Deps } from '../../deps.js';

// PLACEHOLDER: replaced by its owner.
export function apiRouter(_deps: Deps): Router {
  return Router();
}
