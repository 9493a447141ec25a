export type {
  Finding,
  IssueRequest,
  Issued,
  Problem,
  RevocationHandle,
  Substrate,
  VerifyResult,
} from './substrate';
