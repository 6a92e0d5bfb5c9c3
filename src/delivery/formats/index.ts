import { renderDiscord } from './discord.js';
import { renderSlack } from './slack.js';
import { renderStandard } from './standard.js';
import type { EndpointFormat, FormatInput } from './types.js';

export type { EndpointFormat, FormatInput } from './types.js';

/** The request body an endpoint of `format` gets for a message. */
export function renderBody(format: EndpointFormat, input: FormatInput): string {
  switch (format) {
    case 'slack':
      return renderSlack(input);
    case 'discord':
      return renderDiscord(input);
    default:
      return renderStandard(input);
  }
}
