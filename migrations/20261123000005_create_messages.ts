import type { Knex } from 'knex';

// One row per accepted message (customer API, Heroku notification, endpoint test). `payload` is the
// JSON text of `data` exactly as accepted. `event_id` is the per-resource idempotency key: the
// unique constraint, not a check-then-insert, is what stores a repeat once.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table messages (
      id uuid primary key,
      resource_id uuid not null references resources (id) on delete cascade,
      event_type text not null,
      event_id text,
      version text,
      payload text not null,
      subscriber_id uuid,
      endpoint_id uuid,
      source text not null default 'api' check (source in ('api', 'heroku', 'test')),
      created_at timestamptz not null default now(),
      constraint messages_resource_event_id_unique unique (resource_id, event_id)
    );
    create index messages_resource_created_idx on messages (resource_id, created_at desc, id desc);
    create index messages_resource_type_created_idx on messages (resource_id, event_type, created_at desc);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table messages');
}
