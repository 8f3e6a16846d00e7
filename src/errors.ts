/**
 * Every error the gateway raises on purpose extends GatewayError: a stable `code` for logs and tests, and
 * the SIP status it maps to when it reaches a SIP peer (e.g. a parse failure → 400, no common codec → 488).
 */
export class GatewayError extends Error {
  readonly code: string;
  readonly status: number | undefined;

  constructor(code: string, message: string, options?: { status?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options?.status;
  }
}
