import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

/**
 * `views/` sits at the project root; this file runs from src/http/ (tests, tsx) or dist/src/http/
 * (production), so walk up until it is found rather than hard-coding a depth.
 */
function findViews(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'views');
    try {
      if (statSync(path.join(candidate, 'layout.eta')).isFile()) return candidate;
    } catch {
      // not here; keep walking up
    }
    dir = path.dirname(dir);
  }
  throw new Error('views/ not found above ' + fileURLToPath(import.meta.url));
}

let engine: Eta | undefined;

/** The one eta instance. Auto-escaping stays on: raw output (`<%~`) is only for the layout body. */
export function views(): Eta {
  engine ??= new Eta({ views: findViews(), autoEscape: true, cache: true });
  return engine;
}

export function renderView(name: string, data: object): string {
  return views().render(name, data);
}
