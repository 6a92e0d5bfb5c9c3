/** What every body format is rendered from: the stored message. */
export interface FormatInput {
  eventType: string;
  /** The JSON text of `data`, exactly as accepted. */
  payload: string;
  version: string | null;
  createdAt: Date;
}

export type EndpointFormat = 'standard' | 'slack' | 'discord';
