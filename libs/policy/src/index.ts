// libs/policy: risk tiers, approver rules, TTL ceilings, the catalog and the policy in force.
export { compilePolicy, validatePolicy } from './compile-policy';
export type { Locate } from './compile-policy';
export { evaluateRequest } from './evaluate-request';
export type { RequestSpec, EvaluateContext, AccessPlan, Evaluation } from './evaluate-request';
export { approverSpecOf, resolveApprovers, isEligibleApprover, breakGlassRequesterProblem } from './approvers';
export { createElevationAccess, cachedGroupResolver, ratifiedOnLog } from './elevation-access';
export type { AccessCaller, ElevationAccess, ElevationAccessOptions, ElevationFacts, ReaderView } from './elevation-access';
export type { GroupResolver, ResolvedMember, ExcludeRules, IneligibleReason, ApproverFacts } from './approvers';
export { buildCatalog } from './catalog';
export type { Catalog, CatalogEntry } from './catalog';
export { catalogPlugin, catalogForReader } from './catalog-plugin';
export type { CatalogPluginOptions, CatalogRatification, CatalogResponse } from './catalog-plugin';
export { createPolicyStore, contractsPolicyParser } from './policy-store';
export type { PolicyStore, PolicyStoreOptions, LoadedPolicy, PolicyStatus, PolicyParser, PolicyParseResult } from './policy-store';
export { PolicyNotLoaded, PolicyInvalid, PolicyMissing, PolicyMissingAtCommit, PolicyUnratified, PolicyNotTrusted, PolicyVersionUnknown } from './errors';
export { createPolicyTrust, policyBlobSha } from './policy-trust';
export type { PolicyTrust, RatifiedPolicy, PolicyMergeVerdict } from './policy-trust';
export { tierByName, recipientOwners, isRecipientOf, registeredKeys } from './model';
export type {
  PolicyModel,
  PolicyProblem,
  ApproverSpec,
  TierRule,
  BreakGlassRule,
  ScopeRule,
  TargetRule,
  SubstrateFacts,
  SubstrateCatalog,
} from './model';
