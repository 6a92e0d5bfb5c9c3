import type { Knex } from 'knex';

// One row per Heroku add-on resource. `id` is Heroku's uuid (also the id we return), so the primary
// key is what makes repeated provision requests idempotent. Deprovisioned rows stay as tombstones:
// a repeated DELETE answers 410 and a late provision with the same uuid is refused.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table resources (
      id uuid primary key,
      plan text not null,
      region text not null,
      state text not null default 'provisioned' check (state in ('provisioned', 'deprovisioned')),
      name text,
      heroku_id text,
      callback_url text,
      options jsonb not null default '{}'::jsonb,
      app_name text,
      owner_email text,
      api_key_hash text not null unique,
      key_generation integer not null default 1,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deprovisioned_at timestamptz
    )
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table resources');
}
