/** An answer other than success. `expose` is false for 5xx internals: the client sees a generic message. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly statusCode: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly expose: boolean;
  readonly camsRequestId: string | undefined;
  /** What the function log gets beside this answer and the caller never sees (paths, OS errors). */
  readonly detail: string | undefined;

  constructor(
    statusCode: number,
    code: string,
    message: string,
    options: {
      headers?: Record<string, string>;
      expose?: boolean;
      camsRequestId?: string | undefined;
      detail?: string;
    } = {},
  ) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
    this.headers = options.headers ?? {};
    this.expose = options.expose ?? true;
    this.camsRequestId = options.camsRequestId;
    this.detail = options.detail;
  }
}
