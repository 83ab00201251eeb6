/**
 * The comparison point for cold starts: a minimal FC handler built around the official SDK,
 * bundled the same way as ours. Deliberately bare (no auth, no cache): it measures the SDK.
 */
import Cams, * as $Cams from '@alicloud/cams20200606';
import * as $OpenApi from '@alicloud/openapi-client';

interface Context {
  credentials: { accessKeyId: string; accessKeySecret: string; securityToken?: string };
}

let client: Cams | undefined;

export const handler = async (event: Buffer, context: Context) => {
  const request = JSON.parse(event.toString()) as { rawPath: string };
  const flowId = request.rawPath.split('/')[2] ?? '';
  const endpoint = new URL(process.env.CAMS_ENDPOINT ?? 'https://cams.ap-southeast-1.aliyuncs.com');
  client ??= new Cams(
    new $OpenApi.Config({
      ...context.credentials,
      endpoint: endpoint.host,
      protocol: endpoint.protocol.replace(':', ''),
    }),
  );
  const answer = await client.getFlow(new $Cams.GetFlowRequest({ flowId }));
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    isBase64Encoded: false,
    body: JSON.stringify(answer.body?.data ?? {}),
  };
};
