import { Router } from 'express';
import type { Deps } from '../deps.js';

// PLACEHOLDER: replaced by its owner.
export function herokuRouter(_deps: Deps): Router {
  return Router();
}
