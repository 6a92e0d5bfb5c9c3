import type { Knex } from 'knex';

// The outbox: one row per (message, endpoint). Its state vocabulary is closed:
//   pending   → not attempted yet          failed  → attempted, will retry at next_attempt_at
//   succeeded → a 2xx was received          dead    → retries exhausted (or endpoint gone)
//   skipped   → endpoint disabled when the message arrived (kept, so `recover` can replay it)
// A worker claims due rows by pushing next_attempt_at forward by its lease and setting
// locked_until/locked_by; a crashed worker's rows simply become due again when the lease ends.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table deliveries (
      id uuid primary key,
      resource_id uuid not null,
      message_id uuid not null references messages (id) on delete cascade,
      endpoint_id uuid not null references endpoints (id) on delete cascade,
      status text not null default 'pending'
        check (status in ('pending', 'succeeded', 'failed', 'dead', 'skipped')),
      attempt_count integer not null default 0,
      next_attempt_at timestamptz,
      locked_until timestamptz,
      locked_by text,
      last_attempt_at timestamptz,
      last_status_code integer,
      last_error text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      completed_at timestamptz
    );
    create index deliveries_due_idx on deliveries (next_attempt_at) where status in ('pending', 'failed');
    create index deliveries_endpoint_created_idx on deliveries (endpoint_id, created_at desc);
    create index deliveries_message_idx on deliveries (message_id);
    create index deliveries_resource_created_idx on deliveries (resource_id, created_at desc);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table deliveries');
}
