// libs/substrates/wiring: how a jit process assembles its substrates from configuration. Only
// apps compose it (it is the one lib that knows every adapter).
export { SUBSTRATE_DEFINITIONS, createSubstrates, parseSubstrateSettings } from './substrate-settings';
export type { SubstrateInstances } from './substrate-settings';
export { staticSubstrateCatalog, substrateCatalog } from './substrate-catalog';
export { createPolicyTargetResolver } from './target-resolver';
export type { PolicyTargetResolver, PolicyTargetResolverOptions, ResolveInput } from './target-resolver';
export { FINDINGS_METRIC, createPolicyAudit } from './policy-audit';
export type { AuditCheck, AuditFinding, PolicyAudit, PolicyAuditOptions, PolicyAuditResult, SubstrateLookup } from './policy-audit';
