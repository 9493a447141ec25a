// GitLab-shaped HTTP failures: GitLab answers `{"message": "..."}` for most errors and
// `{"error": "..."}` for parameter/route errors; the sandbox reproduces both shapes.

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: Record<string, unknown>,
  ) {
    super(typeof body['message'] === 'string' ? body['message'] : String(body['error'] ?? statusCode));
    this.name = 'HttpError';
  }
}

export const unauthorized = (): HttpError => new HttpError(401, { message: '401 Unauthorized' });
export const forbidden = (): HttpError => new HttpError(403, { message: '403 Forbidden' });
export const notFound = (what?: string): HttpError => new HttpError(404, { message: what ? `404 ${what} Not Found` : '404 Not Found' });
export const notAllowed = (): HttpError => new HttpError(405, { message: '405 Method Not Allowed' });
export const conflict = (message: string): HttpError => new HttpError(409, { message });
export const badRequest = (message: string): HttpError => new HttpError(400, { message });
/** Grape parameter validation failures: `{"error": "<param> is missing"}`. */
export const paramError = (error: string): HttpError => new HttpError(400, { error });
export const unprocessable = (message: unknown): HttpError => new HttpError(422, { message });
