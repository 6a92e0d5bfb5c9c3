import type { Knex } from 'knex';

/*
 * Two index entries less per accepted message and delivery:
 *
 * - deliveries_resource_created_idx goes. Every delivery row is written three times (the insert,
 *   the worker's claim, its result), each a new row version with an entry in every index, and this
 *   index served only the resource-wide delivery list, which now walks the resource's endpoints on
 *   deliveries_endpoint_created_idx (db/deliveries.ts), and the purge of a deprovisioned resource,
 *   which now finds its deliveries through its messages.
 * - The event_id idempotency key becomes a partial unique index: most messages have no event_id,
 *   and a null key was still an index entry each.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    drop index deliveries_resource_created_idx;
    alter table messages drop constraint messages_resource_event_id_unique;
    create unique index messages_resource_event_id_unique on messages (resource_id, event_id) where event_id is not null;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop index messages_resource_event_id_unique;
    alter table messages add constraint messages_resource_event_id_unique unique (resource_id, event_id);
    create index deliveries_resource_created_idx on deliveries (resource_id, created_at desc);
  `);
}
