export { GcpIamContractServer } from './gcp-iam-contract-server';
export type {
  ContractServiceAccount,
  GcpIamContractServerOptions,
  MintedToken,
  RecordedRequest,
  RecordedRestRequest,
} from './gcp-iam-contract-server';
export { FakeIamCredentials } from './fake-iam-credentials';
