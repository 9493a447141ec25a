import { describe, expect, it } from 'vitest';
import { scramVerifier } from './scram-verifier';

describe('scramVerifier', () => {
  it('matches the RFC 7677 test vector (password "pencil")', () => {
    // RFC 7677 §3: salt W22ZaJ0SNY7soEsUEjb6gQ==, i=4096, ClientProof/ServerSignature derive from these keys.
    const v = scramVerifier('pencil', 4096, Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
    expect(v).toBe('SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=');
  });

  it('does not contain the password and salts every call', () => {
    const a = scramVerifier('s3cr3t-password-xyz');
    expect(a).not.toContain('s3cr3t');
    expect(scramVerifier('s3cr3t-password-xyz')).not.toBe(a);
    expect(() => scramVerifier('has space')).toThrow(/printable/);
  });
});
