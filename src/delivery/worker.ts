import type { Deps } from '../deps.js';

// PLACEHOLDER: the delivery worker replaces this file. Interface: startWorker(deps) starts the
// claim loop and returns a handle whose stop() finishes in-flight deliveries and resolves.
export interface WorkerHandle {
  stop(): Promise<void>;
}

export function startWorker(_deps: Deps): WorkerHandle {
  return { stop: async () => {} };
}
