import type { Knex } from 'knex';

// Where messages go. `secret` signs every request; `previous_secrets` ([{secret, expires_at}])
// keep signing alongside it after a rotation. `active = false` with a `disabled_reason` is how the
// health policy (410, five days of failures) or the customer turns an endpoint off.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table endpoints (
      id uuid primary key,
      resource_id uuid not null references resources (id) on delete cascade,
      subscriber_id uuid references subscribers (id) on delete cascade,
      url text not null,
      description text not null default '',
      event_types text[] not null default '{}',
      format text not null default 'standard' check (format in ('standard', 'slack', 'discord')),
      active boolean not null default true,
      disabled_reason text,
      disabled_at timestamptz,
      version text,
      headers jsonb not null default '{}'::jsonb,
      timeout_ms integer not null default 15000,
      secret text not null,
      previous_secrets jsonb not null default '[]'::jsonb,
      failing_since timestamptz,
      last_failure_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create index endpoints_resource_created_idx on endpoints (resource_id, created_at, id);
    create index endpoints_subscriber_idx on endpoints (subscriber_id) where subscriber_id is not null;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table endpoints');
}
