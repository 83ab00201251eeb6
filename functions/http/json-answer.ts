/** The shape FC's HTTP trigger expects back (the same as handler.ts's FcHttpResponse). */
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
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    isBase64Encoded: false,
    body: JSON.stringify(payload),
  };
}
