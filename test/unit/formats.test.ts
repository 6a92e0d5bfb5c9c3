import type { KnownBlock } from '@slack/types';
import type { RESTPostAPIWebhookWithTokenJSONBody } from 'discord-api-types/v10';
import { DISCORD_LIMITS, discordMessage, renderDiscord } from '../../src/delivery/formats/discord.js';
import { renderBody } from '../../src/delivery/formats/index.js';
import { SLACK_LIMITS, renderSlack, slackMessage } from '../../src/delivery/formats/slack.js';
import { renderStandard } from '../../src/delivery/formats/standard.js';
import type { FormatInput } from '../../src/delivery/formats/types.js';

const createdAt = new Date('2026-03-04T05:06:07.089Z');
const input = (eventType: string, data: unknown, version: string | null = null): FormatInput => ({
  eventType,
  payload: JSON.stringify(data),
  version,
  createdAt,
});

const deploy = {
  app: 'shiny-app',
  user: 'dev@example.com',
  url: 'https://shiny-app.herokuapp.com',
  head: '4f6a9c1',
  head_long: '4f6a9c1d2e3b4a5f60718293a4b5c6d7e8f90a1b',
  prev_head: '0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d',
  git_log: '  * Alice: Fix the <login> & signup form\n  * Bob: Bump deps',
  release: 'v42',
  event: 'deploy',
  heroku_id: 'app123@heroku.com',
};
const attach = {
  id: '5b5d1f9c-0f43-4f4e-9f64-7b4c1f5c0c11',
  name: 'HERALD',
  log_token: 't.secret-log-token',
  resource: { id: '8a1e6a2c-3b7f-4a5e-9f0d-2c3b4a5e6f70', name: 'herald-curly-12345' },
  app: { id: '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f', name: 'shiny-app' },
};

/** Every text in a Slack message, to assert the per-field limits. */
function slackTexts(blocks: KnownBlock[]): string[] {
  const out: string[] = [];
  for (const b of blocks) {
    if (b.type === 'section') {
      if (b.text) out.push(b.text.text);
      for (const f of b.fields ?? []) out.push(f.text);
    } else if (b.type === 'header') out.push(b.text.text);
    else if (b.type === 'context') for (const e of b.elements) if ('text' in e && typeof e.text === 'string') out.push(e.text);
  }
  return out;
}

describe('standard format', () => {
  it('wraps the payload text verbatim in {type, timestamp, data}', () => {
    // Key order, spacing and number spelling survive: the payload is not re-serialised.
    const payload = '{"b": 1, "a": [1.50, "x"],  "big": 12345678901234567890}';
    const body = renderStandard({ eventType: 'invoice.paid', payload, version: null, createdAt });
    expect(body).toBe(`{"type":"invoice.paid","timestamp":"2026-03-04T05:06:07.089Z","data":${payload}}`);
    expect(JSON.parse(body)).toEqual({ type: 'invoice.paid', timestamp: '2026-03-04T05:06:07.089Z', data: JSON.parse(payload) });
  });

  it('adds the version when the message has one, and escapes the type', () => {
    const body = renderStandard({ eventType: 'a"b', payload: '[]', version: '2024-01-01', createdAt });
    expect(JSON.parse(body)).toEqual({ type: 'a"b', timestamp: createdAt.toISOString(), data: [], version: '2024-01-01' });
  });

  it('is what renderBody gives for the standard format', () => {
    const i = input('x.y', { a: 1 });
    expect(renderBody('standard', i)).toBe(renderStandard(i));
    expect(renderBody('slack', i)).toBe(renderSlack(i));
    expect(renderBody('discord', i)).toBe(renderDiscord(i));
  });
});

describe('slack format', () => {
  it('renders a deploy: app, linked short commit, who, git log', () => {
    const msg = slackMessage(input('heroku.deploy', deploy));
    const blocks: KnownBlock[] = msg.blocks; // type-checks our shapes against @slack/types
    const all = slackTexts(blocks).join('\n');
    expect(msg.text).toBe('shiny-app was deployed (4f6a9c1) by dev@example.com');
    expect(all).toContain('<https://shiny-app.herokuapp.com/|4f6a9c1>');
    expect(all).toContain('dev@example.com');
    expect(all).toContain('v42');
    // git log lines, with Slack's control characters escaped
    expect(all).toContain('Alice: Fix the &lt;login&gt; &amp; signup form');
    expect(all).toContain('Bob: Bump deps');
  });

  it('does not link the commit when the url is not a safe http(s) url', () => {
    const msg = slackMessage(input('heroku.deploy', { ...deploy, url: 'javascript:alert(1)' }));
    const all = slackTexts(msg.blocks).join('\n');
    expect(all).toContain('(4f6a9c1)');
    expect(all).not.toContain('javascript');
  });

  it('reads the detail when nested under data.detail too', () => {
    const msg = slackMessage(input('heroku.deploy', { event: 'deploy', heroku_id: 'x', detail: deploy }));
    expect(msg.text).toContain('shiny-app was deployed');
  });

  it('renders attach and detach with the add-on and the app, never the log token', () => {
    const attached = slackMessage(input('heroku.attach', attach));
    const detached = slackMessage(input('heroku.detach', attach));
    const a = slackTexts(attached.blocks).join('\n');
    expect(attached.text).toBe('herald-curly-12345 attached to shiny-app as HERALD');
    expect(a).toContain('*herald-curly-12345* attached to *shiny-app*');
    expect(detached.text).toBe('herald-curly-12345 detached from shiny-app');
    expect(JSON.stringify([attached, detached])).not.toContain('secret-log-token');
  });

  it('renders any other event as its type and a compact view of its data', () => {
    const msg = slackMessage(input('invoice.paid', { invoice: 'in_1', amount: 4200, customer: { id: 'c_1' } }));
    const all = slackTexts(msg.blocks).join('\n');
    expect(msg.text).toBe('Herald event: invoice.paid');
    expect(all).toContain('invoice.paid');
    expect(all).toContain('*invoice*\nin_1');
    expect(all).toContain('"customer"');
  });

  it('keeps every text within Slack limits and at most 50 blocks', () => {
    const huge = { note: 'x'.repeat(10_000), list: Array.from({ length: 500 }, (_, i) => `item ${i}`) };
    for (const [type, data] of [
      ['big.event', huge],
      ['heroku.deploy', { ...deploy, git_log: Array.from({ length: 2000 }, (_, i) => `  * dev: commit ${i}`).join('\n'), app: 'a'.repeat(400) }],
    ] as const) {
      const msg = slackMessage(input(type, data));
      expect(msg.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
      for (const b of msg.blocks) {
        if (b.type === 'section') {
          expect(b.text.text.length).toBeLessThanOrEqual(3000);
          for (const f of b.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(2000);
          expect((b.fields ?? []).length).toBeLessThanOrEqual(10);
        }
        if (b.type === 'header') expect(b.text.text.length).toBeLessThanOrEqual(150);
      }
      expect(msg.text.length).toBeLessThanOrEqual(3000);
    }
  });
});

describe('discord format', () => {
  it('renders a deploy as one embed', () => {
    const msg = discordMessage(input('heroku.deploy', deploy));
    const body: RESTPostAPIWebhookWithTokenJSONBody = msg; // type-checks our shape against discord-api-types
    const embed = body.embeds![0]!;
    expect(embed.title).toBe('Deploy: shiny-app');
    expect(embed.url).toBe('https://shiny-app.herokuapp.com/');
    expect(embed.timestamp).toBe(createdAt.toISOString());
    expect(typeof embed.color).toBe('number');
    expect(embed.fields).toEqual(
      expect.arrayContaining([
        { name: 'Release', value: 'v42', inline: true },
        { name: 'Commit', value: '[`4f6a9c1`](https://shiny-app.herokuapp.com/)', inline: true },
        { name: 'By', value: 'dev@example.com', inline: true },
      ]),
    );
    expect(embed.description).toContain('Bob: Bump deps');
  });

  it('renders attach/detach and other events, never the log token', () => {
    const attached = discordMessage(input('heroku.attach', attach)).embeds[0]!;
    expect(attached.title).toBe('Add-on attached: shiny-app');
    expect(attached.description).toBe('**herald-curly-12345** attached to **shiny-app**.');
    const other = discordMessage(input('user.signed_up', { id: 'u_1', plan: 'pro' })).embeds[0]!;
    expect(other.title).toBe('user.signed_up');
    expect(other.fields).toEqual([
      { name: 'id', value: 'u\\_1', inline: true },
      { name: 'plan', value: 'pro', inline: true },
    ]);
    expect(JSON.stringify(discordMessage(input('heroku.attach', attach)))).not.toContain('secret-log-token');
  });

  it('keeps within Discord limits: title 256, description 4096, 25 fields of 1024, 6000 in all', () => {
    const many = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`field_${i}`, 'v'.repeat(2000)]));
    for (const msg of [
      discordMessage(input('e'.repeat(400), many)),
      discordMessage(input('heroku.deploy', { ...deploy, app: 'a'.repeat(400), git_log: 'x\n'.repeat(5000) })),
    ]) {
      const e = msg.embeds[0]!;
      expect(e.title.length).toBeLessThanOrEqual(DISCORD_LIMITS.title);
      expect((e.description ?? '').length).toBeLessThanOrEqual(DISCORD_LIMITS.description);
      expect(e.fields.length).toBeLessThanOrEqual(DISCORD_LIMITS.fields);
      for (const f of e.fields) {
        expect(f.value.length).toBeLessThanOrEqual(DISCORD_LIMITS.fieldValue);
        expect(f.name.length).toBeLessThanOrEqual(DISCORD_LIMITS.fieldName);
      }
      const total = e.title.length + (e.description ?? '').length + e.footer.text.length + e.fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
      expect(total).toBeLessThanOrEqual(DISCORD_LIMITS.embedTotal);
    }
  });
});
