import { Router } from 'express';
import type { Deps } from '../deps.js';

// PLACEHOLDER: replaced by its owner.
export function dashboardRouter(_deps: Deps): Router {
  return Router();
}
