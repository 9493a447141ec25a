// The base error every lib throws: a stable code, a retriable flag and the cause kept.
// Services decide retry vs. dead-letter from `retriable` alone.

export interface JitErrorOptions {
  /** Whether trying the same operation again may succeed (network, 5xx, 429, lock). */
  retriable?: boolean;
  /** HTTP status to answer with when this error reaches an HTTP edge. */
  statusCode?: number;
  /** Structured, secret-free detail (field paths, ids). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class JitError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly statusCode: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: JitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'JitError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.statusCode = options.statusCode ?? 500;
    this.details = options.details;
  }

  toJSON(): { code: string; message: string; retriable: boolean; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      retriable: this.retriable,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export interface ErrorDefinition {
  readonly code: string;
  readonly message: string;
  readonly retriable: boolean;
  readonly statusCode: number;
}

/** A catalogue entry: call it with template arguments to get a JitError. */
export interface ErrorFactory<A extends unknown[]> extends ErrorDefinition {
  (...args: [...A, JitErrorOptions?]): JitError;
  is(err: unknown): err is JitError;
}

/**
 * Define one catalogue entry. `message` may use %s placeholders filled in order.
 * Codes must match JIT_ERR_<AREA>_<WHAT> and be documented in docs/errors.md.
 */
export function defineError<A extends unknown[] = []>(code: string, message: string, opts: { retriable?: boolean; statusCode?: number } = {}): ErrorFactory<A> {
  if (!/^JIT_ERR_[A-Z0-9]+_[A-Z0-9_]+$/.test(code)) throw new Error(`bad error code ${code}`);
  const retriable = opts.retriable ?? false;
  const statusCode = opts.statusCode ?? 500;
  const factory = ((...args: unknown[]) => {
    const last = args[args.length - 1];
    const placeholders = (message.match(/%s/g) ?? []).length;
    const options = args.length > placeholders && last && typeof last === 'object' ? (args.pop() as JitErrorOptions) : {};
    let i = 0;
    const text = message.replace(/%s/g, () => String(args[i++]));
    return new JitError(code, text, { retriable, statusCode, ...options });
  }) as unknown as ErrorFactory<A>;
  Object.defineProperties(factory, {
    code: { value: code },
    message: { value: message },
    retriable: { value: retriable },
    statusCode: { value: statusCode },
    is: { value: (err: unknown): err is JitError => err instanceof JitError && err.code === code },
  });
  return factory;
}

/** Whether an error (ours or foreign) is worth retrying. Unknown errors are not. */
export function isRetriable(err: unknown): boolean {
  if (err instanceof JitError) return err.retriable;
  if (err && typeof err === 'object' && 'retriable' in err) return Boolean((err as { retriable: unknown }).retriable);
  return false;
}
