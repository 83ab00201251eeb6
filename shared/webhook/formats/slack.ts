import type { FormatAdapter } from '../types';
import { describeEvent } from './text';

/** Slack incoming webhooks are authenticated by their secret url; there is no signature. */
export const slackFormat: FormatAdapter = {
  build(event, endpoint) {
    return {
      url: endpoint.url,
      body: JSON.stringify({ text: describeEvent(event) }),
      headers: { 'content-type': 'application/json', 'webhook-id': event.id },
    };
  },
};
