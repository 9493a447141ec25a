// What this adapter has issued, per grant id: GCP has no way to list or revoke access tokens, so
// the only record of "a token exists for grant X until T" is the one the adapter keeps. The default
// is per-process memory; an app that needs it across restarts injects a persistent store.

export interface IssuedRecord {
  grantId: string;
  serviceAccount: string;
  scopes: string[];
  /** Token expiry as reported by the API (or, while `pending`, the requested one). */
  expiresAt: Date;
  state: 'pending' | 'issued' | 'revoked';
}

export interface IssuedLedger {
  get(grantId: string): IssuedRecord | undefined;
  put(record: IssuedRecord): void;
  delete(grantId: string): void;
  list(): IssuedRecord[];
}

export class InMemoryIssuedLedger implements IssuedLedger {
  private readonly records = new Map<string, IssuedRecord>();
  get(grantId: string): IssuedRecord | undefined {
    const r = this.records.get(grantId);
    return r && { ...r };
  }
  put(record: IssuedRecord): void {
    this.records.set(record.grantId, { ...record });
  }
  delete(grantId: string): void {
    this.records.delete(grantId);
  }
  list(): IssuedRecord[] {
    return [...this.records.values()].map((r) => ({ ...r }));
  }
}
