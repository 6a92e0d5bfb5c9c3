import type { Knex } from 'knex';

// Messages accepted per resource per calendar month (UTC), for the plan's monthly quota. A counter
// row per month avoids counting millions of message rows on every send.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table usage_counters (
      resource_id uuid not null references resources (id) on delete cascade,
      period date not null,
      messages bigint not null default 0,
      primary key (resource_id, period)
    )
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table usage_counters');
}
