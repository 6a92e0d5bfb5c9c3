import type { Knex } from 'knex';
import * as createResources from './20261123000001_create_resources.js';
import * as createSubscribers from './20261123000002_create_subscribers.js';
import * as createEndpoints from './20261123000003_create_endpoints.js';
import * as createEventTypes from './20261123000004_create_event_types.js';
import * as createMessages from './20261123000005_create_messages.js';
import * as createDeliveries from './20261123000006_create_deliveries.js';
import * as createAttempts from './20261123000007_create_attempts.js';
import * as createUsageCounters from './20261123000008_create_usage_counters.js';
import * as dropDeliveryForeignKeys from './20261123000009_drop_delivery_foreign_keys.js';
import * as shardUsageCounters from './20261123000010_shard_usage_counters.js';
import * as trimDeliveryIndexes from './20261123000011_trim_delivery_indexes.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

// Migrations are listed here, named without extension: knex records the names it ran, and a
// database migrated from `.ts` (tests) must not look corrupt to the built `.js` (release phase).
// Never edit a shipped migration; add a new file and list it last.
const MIGRATIONS: ReadonlyArray<readonly [string, Migration]> = [
  ['20261123000001_create_resources', createResources],
  ['20261123000002_create_subscribers', createSubscribers],
  ['20261123000003_create_endpoints', createEndpoints],
  ['20261123000004_create_event_types', createEventTypes],
  ['20261123000005_create_messages', createMessages],
  ['20261123000006_create_deliveries', createDeliveries],
  ['20261123000007_create_attempts', createAttempts],
  ['20261123000008_create_usage_counters', createUsageCounters],
  ['20261123000009_drop_delivery_foreign_keys', dropDeliveryForeignKeys],
  ['20261123000010_shard_usage_counters', shardUsageCounters],
  ['20261123000011_trim_delivery_indexes', trimDeliveryIndexes],
];

export const migrationSource: Knex.MigrationSource<readonly [string, Migration]> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
