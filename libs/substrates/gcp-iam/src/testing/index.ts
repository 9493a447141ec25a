export { GcpIamContractServer } from './gcp-iam-contract-server';
export type { ContractFederation, ContractServiceAccount, GcpIamContractServerOptions, MintedToken, RecordedRequest, RecordedRestRequest } from './gcp-iam-contract-server';
export { FakeIamCredentials } from './fake-iam-credentials';
