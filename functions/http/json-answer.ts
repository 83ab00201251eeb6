export const JSON_TYPE = 'application/json; charset=utf-8';

/** The shape FC's HTTP trigger expects back (handler.ts's FcHttpResponse). */
export interface OperatorAnswer {
  statusCode: number;
  headers: Record<string, string>;
  isBase64Encoded: boolean;
  body: string;
}

export function jsonAnswer(
  statusCode: number,
  payload: unknown,
  headers: Record<string, string> = {},
): OperatorAnswer {
  return {
    statusCode,
    headers: { 'content-type': JSON_TYPE, ...headers },
    isBase64Encoded: false,
    body: JSON.stringify(payload),
  };
}
