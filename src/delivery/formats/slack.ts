import type { FormatInput } from './types.js';
import { compactJson, gitLogLines, herokuDetail, isObject, linkableUrl, parsePayload, scalarFields, shortSha, str, truncate, type Json } from './text.js';

/**
 * Slack incoming-webhook body: `{text, blocks}` in Block Kit. The shapes are a subset of
 * @slack/types' KnownBlock (test/unit/formats.test.ts assigns them to it, so tsc checks them).
 */
export type SlackText = { type: 'mrkdwn'; text: string } | { type: 'plain_text'; text: string; emoji?: boolean };
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji?: boolean } }
  | { type: 'section'; text: SlackText; fields?: SlackText[] }
  | { type: 'context'; elements: SlackText[] }
  | { type: 'divider' };
export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

/** Slack's documented limits. */
export const SLACK_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  headerText: 150,
  contextElements: 10,
  fallbackText: 3000,
} as const;

/** Slack mrkdwn control characters. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const mrkdwn = (text: string): SlackText => ({ type: 'mrkdwn', text: truncate(text, SLACK_LIMITS.sectionText) });
const field = (label: string, value: string): SlackText => ({
  type: 'mrkdwn',
  text: truncate(`*${escapeMrkdwn(label)}*\n${escapeMrkdwn(value)}`, SLACK_LIMITS.fieldText),
});
const header = (text: string): SlackBlock => ({
  type: 'header',
  text: { type: 'plain_text', text: truncate(text, SLACK_LIMITS.headerText), emoji: true },
});
const link = (url: string | undefined, label: string): string => {
  const href = linkableUrl(url);
  return href ? `<${href}|${escapeMrkdwn(label)}>` : escapeMrkdwn(label);
};
/** A code block whose content, fences included, fits one section. */
const codeBlock = (text: string): SlackBlock => ({
  type: 'section',
  text: { type: 'mrkdwn', text: '```' + truncate(escapeMrkdwn(text.replace(/```/g, "'''")), SLACK_LIMITS.sectionText - 6) + '```' },
});

function footer(input: FormatInput): SlackBlock {
  return {
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `Herald · \`${escapeMrkdwn(input.eventType)}\` · ${input.createdAt.toISOString()}` }],
  };
}

function deploy(detail: Record<string, Json>, input: FormatInput): SlackMessage {
  const app = str(detail, 'app') ?? 'an app';
  const user = str(detail, 'user');
  const sha = shortSha(detail);
  const release = str(detail, 'release');
  const url = str(detail, 'url');
  const commit = sha ? ` (${link(url, sha)})` : '';
  const by = user ? ` by ${escapeMrkdwn(user)}` : '';
  const blocks: SlackBlock[] = [
    header(`Deploy: ${app}`),
    { type: 'section', text: mrkdwn(`:rocket: *${link(url, app)}* was deployed${commit}${by}.`) },
  ];
  const fields: SlackText[] = [];
  if (release) fields.push(field('Release', release));
  if (sha) fields.push(field('Commit', str(detail, 'head_long') ?? sha));
  const prev = str(detail, 'prev_head');
  if (prev) fields.push(field('Previous commit', prev));
  if (fields.length > 0) blocks.push({ type: 'section', text: mrkdwn('*Details*'), fields: fields.slice(0, SLACK_LIMITS.fields) });
  const log = gitLogLines(detail.git_log);
  if (log.length > 0) blocks.push(codeBlock(log.join('\n')));
  blocks.push(footer(input));
  return { text: `${app} was deployed${sha ? ` (${sha})` : ''}${user ? ` by ${user}` : ''}`, blocks };
}

function attachment(detail: Record<string, Json>, input: FormatInput, attached: boolean): SlackMessage {
  const resource = isObject(detail.resource) ? detail.resource : undefined;
  const appObj = isObject(detail.app) ? detail.app : undefined;
  const addon = str(resource, 'name') ?? 'The add-on';
  const app = str(appObj, 'name') ?? str(detail, 'app') ?? 'an app';
  const as = str(detail, 'name');
  const verb = attached ? 'attached to' : 'detached from';
  const line = `${addon} ${verb} ${app}${attached && as ? ` as ${as}` : ''}`;
  const blocks: SlackBlock[] = [
    header(attached ? `Add-on attached: ${app}` : `Add-on detached: ${app}`),
    {
      type: 'section',
      text: mrkdwn(
        `${attached ? ':link:' : ':broken_chain:'} *${escapeMrkdwn(addon)}* ${verb} *${escapeMrkdwn(app)}*` +
          (attached && as ? ` as \`${escapeMrkdwn(as)}\`` : '') +
          '.',
      ),
    },
    footer(input),
  ];
  return { text: line, blocks };
}

function generic(data: Json, input: FormatInput): SlackMessage {
  const blocks: SlackBlock[] = [header(input.eventType)];
  const fields = scalarFields(data, SLACK_LIMITS.fields).map(([k, v]) => field(k, v));
  if (fields.length > 0) blocks.push({ type: 'section', text: mrkdwn(`*${escapeMrkdwn(input.eventType)}*`), fields });
  blocks.push(codeBlock(compactJson(data, SLACK_LIMITS.sectionText)));
  blocks.push(footer(input));
  return { text: `Herald event: ${input.eventType}`, blocks };
}

export function slackMessage(input: FormatInput): SlackMessage {
  const data = parsePayload(input.payload);
  const detail = herokuDetail(data);
  let msg: SlackMessage;
  if (input.eventType === 'heroku.deploy' && detail) msg = deploy(detail, input);
  else if ((input.eventType === 'heroku.attach' || input.eventType === 'heroku.detach') && detail) {
    msg = attachment(detail, input, input.eventType === 'heroku.attach');
  } else msg = generic(data, input);
  return { text: truncate(msg.text, SLACK_LIMITS.fallbackText), blocks: msg.blocks.slice(0, SLACK_LIMITS.blocks) };
}

export function renderSlack(input: FormatInput): string {
  return JSON.stringify(slackMessage(input));
}
