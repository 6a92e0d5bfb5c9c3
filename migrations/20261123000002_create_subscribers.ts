import type { Knex } from 'knex';

// A customer's own customers (as in HostedHooks): they own endpoints and get portal links.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table subscribers (
      id uuid primary key,
      resource_id uuid not null references resources (id) on delete cascade,
      name text not null,
      external_id text,
      metadata jsonb not null default '{}'::jsonb,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint subscribers_resource_external_id_unique unique (resource_id, external_id)
    );
    create index subscribers_resource_created_idx on subscribers (resource_id, created_at, id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table subscribers');
}
