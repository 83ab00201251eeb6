import type { FormatAdapter } from '../types';
import { describeEvent, type MarkupEscaper } from './text';

/**
 * Slack parses `<…>` as mentions (`<!channel>`) and links whose label hides the url (`<https://…|label>`);
 * its documented rule is to escape exactly &, < and > as HTML entities, and nothing else.
 */
export const escapeSlack: MarkupEscaper = (value) =>
  value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** Slack incoming webhooks are authenticated by their secret url; there is no signature. */
export const slackFormat: FormatAdapter = {
  build(event, endpoint) {
    return {
      url: endpoint.url,
      body: JSON.stringify({ text: describeEvent(event, escapeSlack) }),
      headers: { 'content-type': 'application/json', 'webhook-id': event.id },
    };
  },
};
