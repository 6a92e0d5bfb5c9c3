import type { Knex } from 'knex';

// Every HTTP attempt of a delivery, kept for the plan's retention: what was sent, what came back.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table attempts (
      id bigint generated always as identity primary key,
      delivery_id uuid not null references deliveries (id) on delete cascade,
      resource_id uuid not null,
      message_id uuid not null,
      endpoint_id uuid not null,
      attempt_number integer not null,
      attempted_at timestamptz not null,
      url text not null,
      request_headers jsonb not null default '{}'::jsonb,
      request_body text,
      status_code integer,
      duration_ms integer not null,
      response_headers jsonb,
      response_body text,
      error_kind text,
      error_message text,
      outcome text not null check (outcome in ('succeeded', 'failed')),
      next_attempt_at timestamptz
    );
    create index attempts_delivery_idx on attempts (delivery_id, attempt_number);
    create index attempts_endpoint_time_idx on attempts (endpoint_id, attempted_at desc);
    create index attempts_resource_time_idx on attempts (resource_id, attempted_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table attempts');
}
