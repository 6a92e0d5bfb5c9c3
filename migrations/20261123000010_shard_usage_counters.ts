import type { Knex } from 'knex';

/*
 * A resource's monthly message count is kept in up to USAGE_COUNTER_SHARDS rows (one per shard)
 * and read as their sum. Every accepting statement adds its messages to a counter row and holds
 * that row's lock until it commits, so with one row per resource two statements accepting messages
 * of the same resource ran one after the other; with shards (each statement picks one at random)
 * they run side by side. See src/db/messages.ts.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table usage_counters add column shard smallint not null default 0;
    alter table usage_counters drop constraint usage_counters_pkey;
    alter table usage_counters add primary key (resource_id, period, shard);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    create temporary table usage_totals as
      select resource_id, period, sum(messages)::bigint as messages from usage_counters group by 1, 2;
    delete from usage_counters;
    alter table usage_counters drop constraint usage_counters_pkey;
    alter table usage_counters drop column shard;
    alter table usage_counters add primary key (resource_id, period);
    insert into usage_counters (resource_id, period, messages) select resource_id, period, messages from usage_totals;
    drop table usage_totals;
  `);
}
