import type { FormatInput } from './types.js';
import { compactJson, gitLogLines, herokuDetail, isObject, linkableUrl, parsePayload, scalarFields, shortSha, str, truncate, type Json } from './text.js';

/**
 * Discord webhook body: one embed. A subset of discord-api-types'
 * RESTPostAPIWebhookWithTokenJSONBody (test/unit/formats.test.ts assigns it to that type).
 */
export interface DiscordField {
  name: string;
  value: string;
  inline?: boolean;
}
export interface DiscordEmbed {
  title: string;
  url?: string;
  description?: string;
  fields: DiscordField[];
  timestamp: string;
  color: number;
  footer: { text: string };
}
export interface DiscordMessage {
  content?: string;
  embeds: DiscordEmbed[];
}

/** Discord's documented limits (the 6,000 total counts every text of the embed). */
export const DISCORD_LIMITS = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  embedTotal: 6000,
} as const;

const COLORS = { deploy: 0x6762a6, attach: 0x2eb67d, detach: 0xe01e5a, other: 0x5865f2 } as const;

const mdEscape = (s: string): string => s.replace(/([\\*_~`|>[\]()])/g, '\\$1');
const fieldOf = (name: string, value: string, inline = true): DiscordField => ({
  name: truncate(name, DISCORD_LIMITS.fieldName),
  value: truncate(value === '' ? '\u200b' : value, DISCORD_LIMITS.fieldValue),
  inline,
});
const codeBlock = (text: string, max: number): string => '```\n' + truncate(text.replace(/```/g, "'''"), max - 8) + '\n```';

function deploy(detail: Record<string, Json>): Omit<DiscordEmbed, 'timestamp' | 'footer'> {
  const app = str(detail, 'app') ?? 'an app';
  const sha = shortSha(detail);
  const user = str(detail, 'user');
  const url = linkableUrl(str(detail, 'url'));
  const fields: DiscordField[] = [];
  if (str(detail, 'release')) fields.push(fieldOf('Release', str(detail, 'release')!));
  if (sha) fields.push(fieldOf('Commit', url ? `[\`${sha}\`](${url})` : `\`${sha}\``));
  if (user) fields.push(fieldOf('By', mdEscape(user)));
  const prev = str(detail, 'prev_head');
  if (prev) fields.push(fieldOf('Previous commit', `\`${prev.slice(0, 7)}\``));
  const log = gitLogLines(detail.git_log);
  const embed: Omit<DiscordEmbed, 'timestamp' | 'footer'> = {
    title: `Deploy: ${app}`,
    ...(url ? { url } : {}),
    fields,
    color: COLORS.deploy,
  };
  if (log.length > 0) embed.description = codeBlock(log.join('\n'), DISCORD_LIMITS.description);
  return embed;
}

function attachment(detail: Record<string, Json>, attached: boolean): Omit<DiscordEmbed, 'timestamp' | 'footer'> {
  const resource = isObject(detail.resource) ? detail.resource : undefined;
  const appObj = isObject(detail.app) ? detail.app : undefined;
  const addon = str(resource, 'name') ?? 'The add-on';
  const app = str(appObj, 'name') ?? str(detail, 'app') ?? 'an app';
  const as = str(detail, 'name');
  const fields = [fieldOf('Add-on', mdEscape(addon)), fieldOf('App', mdEscape(app))];
  if (attached && as) fields.push(fieldOf('Attached as', `\`${as}\``));
  return {
    title: attached ? `Add-on attached: ${app}` : `Add-on detached: ${app}`,
    description: `**${mdEscape(addon)}** ${attached ? 'attached to' : 'detached from'} **${mdEscape(app)}**.`,
    fields,
    color: attached ? COLORS.attach : COLORS.detach,
  };
}

function generic(data: Json, eventType: string): Omit<DiscordEmbed, 'timestamp' | 'footer'> {
  return {
    title: eventType,
    description: codeBlock(compactJson(data, DISCORD_LIMITS.description), DISCORD_LIMITS.description),
    fields: scalarFields(data, DISCORD_LIMITS.fields).map(([k, v]) => fieldOf(k, mdEscape(v))),
    color: COLORS.other,
  };
}

/** Keeps the embed inside every per-field limit and the 6,000-character total. */
function fitLimits(embed: DiscordEmbed): DiscordEmbed {
  const title = truncate(embed.title, DISCORD_LIMITS.title);
  const fields = embed.fields.slice(0, DISCORD_LIMITS.fields);
  const footer = { text: truncate(embed.footer.text, DISCORD_LIMITS.footer) };
  let used = title.length + footer.text.length + fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
  while (used > DISCORD_LIMITS.embedTotal && fields.length > 0) {
    const f = fields.pop()!;
    used -= f.name.length + f.value.length;
  }
  const out: DiscordEmbed = { ...embed, title, fields, footer };
  if (embed.description !== undefined) {
    const room = Math.min(DISCORD_LIMITS.description, DISCORD_LIMITS.embedTotal - used);
    if (room > 0) out.description = truncate(embed.description, room);
    else delete out.description;
  }
  return out;
}

export function discordMessage(input: FormatInput): DiscordMessage {
  const data = parsePayload(input.payload);
  const detail = herokuDetail(data);
  let embed: Omit<DiscordEmbed, 'timestamp' | 'footer'>;
  if (input.eventType === 'heroku.deploy' && detail) embed = deploy(detail);
  else if ((input.eventType === 'heroku.attach' || input.eventType === 'heroku.detach') && detail) {
    embed = attachment(detail, input.eventType === 'heroku.attach');
  } else embed = generic(data, input.eventType);
  return {
    embeds: [fitLimits({ ...embed, timestamp: input.createdAt.toISOString(), footer: { text: `Herald · ${input.eventType}` } })],
  };
}

export function renderDiscord(input: FormatInput): string {
  return JSON.stringify(discordMessage(input));
}
