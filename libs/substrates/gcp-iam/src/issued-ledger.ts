// What this adapter has issued in this process, per grant id: GCP has no way to list or revoke
// access tokens. Across restarts and replicas the log is the record (the issuer writes
// `elevation.grant.started` before calling a substrate that cannot revoke early and refuses to call
// it again for that grant); this per-process store only guards concurrent calls and serves listIssued.

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
