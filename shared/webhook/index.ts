export { ConfigError, endpointId, parseWebhookEndpoints } from './config';
export { signDingtalk } from './formats/dingtalk';
export { signFeishu } from './formats/feishu';
export { signMeta } from './formats/meta';
export { signStandard, standardSigningKey } from './formats/standard';
export {
  createWebhookPublisher,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  type WebhookPublisher,
  type WebhookPublisherOptions,
} from './publisher';
export { parseRetryAfter } from './retry-after';
export type { DeliveryOutcome, FlowEvent, FlowEventData, WebhookEndpoint, WebhookFormat } from './types';
export { WEBHOOK_FORMATS } from './types';
