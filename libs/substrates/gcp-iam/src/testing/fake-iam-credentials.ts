// An in-process IamCredentialsApi for unit tests (no sockets): records requests, answers with a
// token and expireTime, or fails the next call with an error shaped like a gax/gRPC error.
import { randomBytes } from 'node:crypto';
import type { CallOptions } from 'google-gax';
import type { GenerateAccessTokenRequest, GenerateAccessTokenResponse, IamCredentialsApi } from '../gcp-iam-config';

export class FakeIamCredentials implements IamCredentialsApi {
  readonly calls: Array<{ request: GenerateAccessTokenRequest; options?: CallOptions }> = [];
  closed = false;
  private readonly next: Array<unknown> = [];

  constructor(private readonly clock: () => Date = () => new Date()) {}

  /** The next call rejects with a gRPC-shaped error (`{ code, details }`), or answers `response`. */
  failNext(code: number, details = 'failure'): void {
    this.next.push(Object.assign(new Error(`${code} ${details}`), { code, details }));
  }
  answerNext(response: GenerateAccessTokenResponse): void {
    this.next.push({ response });
  }

  async generateAccessToken(request: GenerateAccessTokenRequest, options?: CallOptions): Promise<[GenerateAccessTokenResponse]> {
    this.calls.push({ request: structuredClone(request), options });
    const n = this.next.shift();
    if (n instanceof Error) throw n;
    if (n && typeof n === 'object' && 'response' in n) return [(n as { response: GenerateAccessTokenResponse }).response];
    const seconds = Math.floor(this.clock().getTime() / 1000) + request.lifetime.seconds;
    return [{ accessToken: `ya29.unit-${randomBytes(24).toString('base64url')}`, expireTime: { seconds: String(seconds), nanos: 0 } }];
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
