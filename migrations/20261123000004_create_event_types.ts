import type { Knex } from 'knex';

// Event types a resource declared (with a description) or used.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table event_types (
      resource_id uuid not null references resources (id) on delete cascade,
      name text not null,
      description text not null default '',
      created_at timestamptz not null default now(),
      primary key (resource_id, name)
    )
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table event_types');
}
